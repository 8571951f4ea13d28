"""The reference Raft node on a fault file system: its real I/O, a power loss, a restart.

A one-node cluster commits each add by itself, after fsyncing its log, so every add it
acknowledged must be in the set it serves after a power loss and a restart on the same
mount. (The multi-node detection runs belong to the disk nemeses.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chaoskit.disk import DiskFaults
from chaoskit.runtimes.ports import reserve_port

pytestmark = pytest.mark.integration


def _start(data: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "chaoskit.targets.raft", "--id", "n1"]
    argv += ["--listen", f"127.0.0.1:{port}", "--data-dir", str(data)]
    with open(log, "ab") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def _read_set(client: httpx.Client, timeout: float = 30.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            reply = client.get("/set/s")
            if reply.status_code == 200:
                return sorted(reply.json()["elements"])
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("the restarted node never served the set")
        time.sleep(0.05)


def test_acknowledged_adds_survive_a_power_loss(disk: DiskFaults, short_dir: Path) -> None:
    data = disk.mount("n1", short_dir / "n1").data_dir
    port = reserve_port()
    proc = _start(data, port, short_dir / "n1.log")
    acked: list[int] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2.0) as client:
            deadline = time.monotonic() + 30
            element = 0
            while len(acked) < 200 and time.monotonic() < deadline:
                try:
                    if client.post("/set/s/add", json={"element": element}).status_code == 200:
                        acked.append(element)
                except httpx.HTTPError:
                    time.sleep(0.05)
                element += 1
            assert len(acked) == 200
            disk.power_loss("n1", kill=lambda: os.kill(proc.pid, signal.SIGKILL))
            proc.wait(timeout=10)
            proc = _start(data, port, short_dir / "n1.log")
            assert set(acked) <= set(_read_set(client))
    finally:
        proc.kill()
        proc.wait()
