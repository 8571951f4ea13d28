"""Helpers of the reliability tests: controllers as processes, an external proxy, /proc.

Every test gets its own state dir (``CHAOSKIT_STATE_DIR``) so the registry of active
runs it sees holds only its own runs, and a finalizer that kills whatever the test's
own runs left (by run id: never the runs of anybody else on this machine).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.runtimes.local import kill_leftovers
from chaoskit.runtimes.ports import reserve_port
from tests.support.eventually import eventually

REPO = Path(__file__).resolve().parents[2]


def read_records(path: Path) -> list[dict[str, Any]]:
    """Complete lines of a stream being written (a torn last line is skipped)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            out.append(json.loads(line))
    return out


def open_faults(run_dir: Path) -> list[dict[str, Any]]:
    """Faults of the fault log with a start and no stop."""
    records = read_records(run_dir / "nemesis.jsonl")
    stopped = {r["id"] for r in records if r["type"] == "stop"}
    return [r for r in records if r["type"] == "start" and r["id"] not in stopped]


def starts_and_stops(run_dir: Path) -> tuple[list[int], list[int]]:
    records = read_records(run_dir / "nemesis.jsonl")
    starts = sorted(r["id"] for r in records if r["type"] == "start")
    stops = sorted(r["id"] for r in records if r["type"] == "stop")
    return starts, stops


# -- sockets, from /proc ------------------------------------------------------------------

_LISTEN = "0A"


def _decode(addr: str) -> tuple[str, int]:
    host, port = addr.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = socket.inet_ntop(socket.AF_INET, raw[::-1])
    else:  # /proc/net/tcp6: four little-endian 32-bit words
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        ip = socket.inet_ntop(socket.AF_INET6, words)
    return ip, int(port, 16)


def listening_sockets() -> dict[int, tuple[str, int]]:
    """inode -> (address, port) of every TCP listener on this machine (v4 and v6)."""
    found: dict[int, tuple[str, int]] = {}
    for name in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == _LISTEN:
                found[int(parts[9])] = _decode(parts[1])
    return found


def socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def listeners_of(pids: list[int]) -> list[tuple[str, int]]:
    """(address, port) of every TCP listener held by any of ``pids``."""
    listening = listening_sockets()
    held: set[int] = set()
    for pid in pids:
        held |= socket_inodes(pid)
    return sorted(listening[i] for i in held if i in listening)


def port_listening(port: int) -> bool:
    return any(p == port for _, p in listening_sockets().values())


# -- chaoskit as a process ----------------------------------------------------------------


@dataclass
class Session:
    """Runs one test starts; everything they leave is removed at the end."""

    cwd: Path
    state: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return dict(
            os.environ, PYTHONPATH=str(REPO), COLUMNS="200", CHAOSKIT_STATE_DIR=str(self.state)
        )

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaoskit", *args],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "chaoskit", *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    @property
    def latest(self) -> Path:
        return (self.cwd / "runs" / "latest").resolve()

    def config(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.latest / "config.json").read_text())
        return data

    def run_ids(self) -> set[str]:
        ids = set()
        for path in self.cwd.glob("runs/*/*/config.json"):
            try:
                ids.add(json.loads(path.read_text())["run_id"])
            except (OSError, ValueError, KeyError):
                continue
        return ids

    def registry(self) -> list[str]:
        return sorted(p.stem for p in (self.state / "active").glob("*.json"))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
        for rid in self.run_ids():
            kill_leftovers(rid)


@pytest.fixture
def session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    state = tmp_path / "state"
    monkeypatch.setenv("CHAOSKIT_STATE_DIR", str(state))
    work = tmp_path / "work"
    work.mkdir()
    s = Session(work, state)
    try:
        yield s
    finally:
        s.close()


@dataclass
class ExternalProxy:
    url: str
    proc: subprocess.Popen[str]

    def proxies(self) -> dict[str, Any]:
        data: dict[str, Any] = httpx.get(f"{self.url}/proxies", timeout=10).json()
        return data


@pytest.fixture
def external_proxy(tmp_path: Path) -> Iterator[ExternalProxy]:
    """``chaoskit proxy`` in its own process, as a user would run a shared proxy."""
    port = reserve_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaoskit", "proxy", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            return httpx.get(f"{url}/version", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        eventually(answers, "the external proxy")
        yield ExternalProxy(url, proc)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
