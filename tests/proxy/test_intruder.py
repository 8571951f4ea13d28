"""Issue 26 as it was found: an unprivileged local user against fault APIs run by root.

Every test here runs the attacker as a throw-away user made for the module
(tests/proxy/_intruder.py) against servers this (root) process starts: the embedded
run proxy, the standalone ``chaoskit proxy`` with and without a token, and the
proxy of a real ``chaoskit run``.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.proxy import ApiChange, ProxyServer

from ._intruder import Intruder, intruder, read, request

pytestmark = pytest.mark.integration

__all__ = ["intruder"]  # the fixture, imported for this module's tests

REPO = Path(__file__).resolve().parents[2]
TOKEN = "run-token-" + "k" * 33


def statuses(results: list[dict[str, Any]]) -> list[Any]:
    return [r.get("status", r.get("error")) for r in results]


def attacks(port: int, link: str, secret_port: int) -> list[dict[str, Any]]:
    """What the issue's reporter did, as one plan."""
    return [
        request(port, "GET", "/version"),
        request(port, "GET", "/proxies"),
        request(port, "POST", f"/proxies/{link}", {"enabled": False}),
        request(
            port,
            "POST",
            f"/proxies/{link}",
            {"enabled": False},
            headers={"Authorization": "Bearer guessed-token-guessed-token"},
        ),
        request(
            port,
            "POST",
            "/proxies",
            {"name": "relay", "listen": "0.0.0.0:0", "upstream": f"127.0.0.1:{secret_port}"},
        ),
        request(port, "POST", "/reset"),
        request(port, "DELETE", f"/proxies/{link}"),
    ]


def test_the_run_proxy_refuses_another_local_user(threaded_guarded, intruder: Intruder) -> None:  # type: ignore[no-untyped-def]
    server, changes = threaded_guarded
    results = intruder.run(
        [
            *attacks(server.port, "n1-n2", server.echo_port),
            read(f"/proc/{os.getpid()}/environ"),
            read(f"/proc/{os.getpid()}/cmdline"),
        ]
    )
    assert statuses(results[:7]) == [401] * 7
    assert results[0]["auth"].startswith("Bearer")
    assert results[7] == {"error": "PermissionError"}
    assert TOKEN not in results[8]["read"]
    proxies = httpx.get(
        f"{server.url}/proxies", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
    ).json()
    assert list(proxies) == ["n1-n2"] and proxies["n1-n2"]["enabled"] is True
    refused = [c for c in changes if c.status == 401]
    assert [c.method for c in refused] == ["POST", "POST", "POST", "POST", "DELETE"]
    assert refused[0].body == {"enabled": False} and refused[0].authenticated is False
    assert all((c.peer or "").startswith("127.0.0.1:") for c in refused)


@pytest.fixture
def threaded_guarded(threaded) -> Iterator[tuple[Any, list[ApiChange]]]:  # type: ignore[no-untyped-def]
    """The threaded server of conftest, replaced by one with the run's token."""
    changes: list[ApiChange] = []
    threaded.call(threaded.server.close())
    threaded.server = ProxyServer(port=0, seed=3, token=TOKEN, on_change=changes.append)
    threaded.call(threaded.server.start())
    body = {"name": "n1-n2", "upstream": f"127.0.0.1:{threaded.echo_port}"}
    made = httpx.post(
        f"{threaded.url}/proxies",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert made.status_code == 201
    yield threaded, changes


# -- the standalone ``chaoskit proxy`` -----------------------------------------------------


def start_proxy(*args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaoskit.proxy", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.stderr else "")
    return proc, int(line.split("http://127.0.0.1:")[1].split()[0])


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def test_the_standalone_proxy_without_token(intruder: Intruder) -> None:
    """No token (Toxiproxy clients cannot send one): a local user may relay loopback to
    loopback, as it could connect there itself; nothing else."""
    proc, port = start_proxy()
    try:
        plan = [
            request(port, "POST", "/proxies", {"name": "mine", "upstream": "127.0.0.1:9"}),
            request(
                port,
                "POST",
                "/proxies",
                {"name": "relay", "listen": "0.0.0.0:0", "upstream": "127.0.0.1:9"},
            ),
            request(port, "POST", "/proxies", {"name": "md", "upstream": "169.254.169.254:80"}),
            request(
                port,
                "POST",
                "/proxies/mine",
                '{"enabled": false}',
                content_type="text/plain",
            ),
            request(
                port,
                "POST",
                "/proxies/mine",
                {"enabled": False},
                headers={"Host": f"evil.example:{port}"},
            ),
            request(
                port,
                "POST",
                "/proxies/mine",
                {"enabled": False},
                headers={"Origin": "http://evil.example"},
            ),
            request(port, "GET", "/proxies"),
        ]
        results = intruder.run(plan)
        assert statuses(results) == [201, 403, 403, 415, 421, 403, 200]
        proxies = json.loads(results[-1]["body"])
        assert list(proxies) == ["mine"] and proxies["mine"]["enabled"] is True
    finally:
        stop(proc)


def test_the_standalone_proxy_with_a_token_file(intruder: Intruder, tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o600)
    os.chmod(tmp_path, 0o755)  # the user may look for the file, not read it
    proc, port = start_proxy("--token-file", str(token_file))
    try:
        results = intruder.run([*attacks(port, "x", 9), read(str(token_file))])
        assert statuses(results) == [401] * 7 + ["PermissionError"]
        assert (
            httpx.get(
                f"http://127.0.0.1:{port}/proxies",
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=10,
            ).json()
            == {}
        )
    finally:
        stop(proc)
    # The environment (how the Docker runtime passes it) is as private: only the owner
    # and root read /proc/PID/environ, and argv never holds the token.
    proc, port = start_proxy(env={"CHAOSKIT_PROXY_TOKEN": TOKEN})
    try:
        results = intruder.run(
            [
                request(port, "GET", "/proxies"),
                read(f"/proc/{proc.pid}/environ"),
                read(f"/proc/{proc.pid}/cmdline"),
            ]
        )
        assert statuses(results[:2]) == [401, "PermissionError"]
        assert TOKEN not in results[2]["read"]
    finally:
        stop(proc)
    token_file.chmod(0o644)
    done = subprocess.run(
        [sys.executable, "-m", "chaoskit.proxy", "--port", "0", "--token-file", str(token_file)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: token file") and "chmod 600" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o644


# -- a real run ----------------------------------------------------------------------------


def listening_ports(pid: int) -> set[int]:
    """TCP ports process ``pid`` listens on (root reads every process's fds)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def find_fault_api(pid: int, deadline: float) -> int:
    """The port among the controller's listeners that answers as a chaoskit fault API."""
    while time.monotonic() < deadline:
        for port in sorted(listening_ports(pid)):
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/version", timeout=2)
            except httpx.HTTPError:
                continue
            if 'realm="chaoskit"' in answer.headers.get("WWW-Authenticate", ""):
                return port
        time.sleep(0.2)
    raise AssertionError("the run's fault API never appeared")


def test_a_real_run_records_the_attempts_and_stays_valid(
    intruder: Intruder, tmp_path: Path
) -> None:
    """``chaoskit run`` (as root) while another user attacks its fault API: every
    attempt is refused and appears in nemesis.jsonl; the verdict is that of the run."""
    store = tmp_path / "runs"
    argv = [
        sys.executable,
        "-m",
        "chaoskit",
        "run",
        "--target",
        "raft",
        "--nemesis",
        "none",
        "--workload",
        "none",
        "--nodes",
        "3",
        "--time-limit",
        "8",
        "--seed",
        "4",
        "--store",
        str(store),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        port = find_fault_api(run.pid, time.monotonic() + 120)
        results = intruder.run(attacks(port, "ck-guess-n1-n2", 9))
        out, err = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(30)
    assert statuses(results) == [401] * 7
    assert run.returncode == 0, (out, err)
    records = [
        json.loads(line) for line in (store / "latest" / "nemesis.jsonl").read_text().splitlines()
    ]
    api = [r for r in records if r["type"] == "api"]
    assert [(r["method"], r["status"], r["authenticated"]) for r in api] == [
        ("POST", 401, False),
        ("POST", 401, False),
        ("POST", 401, False),
        ("POST", 401, False),
        ("DELETE", 401, False),
    ]
    assert api[0]["path"] == "/proxies/ck-guess-n1-n2" and api[0]["peer"].startswith("127.0.0.1:")
    assert all(r["type"] in ("api", "start", "stop") for r in records)
    config = (store / "latest" / "config.json").read_text()
    assert "Bearer" not in config and "token" not in config.lower()
