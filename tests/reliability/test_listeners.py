"""Safety by default: every listener of a running controller and its nodes is on
127.0.0.1 (read from /proc/net/tcp{,6} and each process's open sockets)."""

from __future__ import annotations

import signal

import pytest

from chaoskit.runtimes.local import find_leftovers
from tests.support.eventually import eventually

from .conftest import Session, listeners_of, open_faults, read_records

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("target", ["raft", "bully"])
def test_only_loopback_listeners(session: Session, target: str) -> None:
    nodes = 3
    proc = session.spawn(
        "run",
        "--target",
        target,
        "--nodes",
        str(nodes),
        "--time-limit",
        "120",
        "--nemesis",
        "partition",
        "--no-progress",
        "--seed",
        "1",
        "--fault-seconds",
        "30",
        "--heal-seconds",
        "1",
    )
    pids: list[int] = []

    def faulted() -> bool:
        assert proc.poll() is None, proc.communicate()
        latest = session.cwd / "runs" / "latest"
        if not (latest / "config.json").exists():
            return False
        return any(r["type"] == "start" for r in read_records(latest / "nemesis.jsonl"))

    try:
        eventually(faulted, "the run to be under faults")
        pids = [proc.pid, *find_leftovers(session.config()["run_id"])]
        listeners = listeners_of(pids)
        cut = open_faults(session.latest)[0]["cut"]
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    # Each node's port, the proxy API, a proxy per ordered pair (a cut one stops listening).
    assert len(listeners) >= nodes + 1 + nodes * (nodes - 1) - len(cut), listeners
    assert {addr for addr, _ in listeners} == {"127.0.0.1"}, listeners
    assert len(pids) > nodes  # the controller and every node were scanned
