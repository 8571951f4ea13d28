"""Issue 12: real etcd clusters through `chaoskit run`, and the etcd-election example.

Each run is short (20-25 s of faults) so the whole file stays within about three
minutes on two cores; the fault and heal intervals are shortened to match.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.proxy import ProxyServer

from .conftest import chaoskit_cli, needs_etcd

pytestmark = [pytest.mark.integration, needs_etcd]

SHORT = ("--nodes", "3", "--time-limit", "20", "--fault-seconds", "5", "--heal-seconds", "5",
         "--no-progress")  # fmt: skip


@pytest.mark.parametrize("nemesis", ["partition", "kill-leader", "pause-leader", "isolate-leader"])
def test_etcd_passes_under_faults(tmp_path: Path, nemesis: str) -> None:
    res = chaoskit_cli(tmp_path, "run", "--target", "etcd", "--nemesis", nemesis,
                       "--seed", "7", *SHORT)  # fmt: skip
    assert res.code == 0, res.stdout + res.stderr
    results = res.results()
    assert results["valid"] is True
    assert set(results["checkers"]) >= {"split-brain", "stalled-election", "linearizable"}
    faults = [r for r in res.records("nemesis.jsonl") if r["type"] == "start"]
    assert faults, "no fault was applied"
    history = res.records("history.jsonl")
    assert any(r["type"] == "ok" and r["f"] == "cas" for r in history)
    leaders = {r["node"] for r in res.records("observations.jsonl") if r["role"] == "leader"}
    if nemesis in ("kill-leader", "pause-leader", "isolate-leader"):
        assert len(leaders) >= 2, "the fault on the leader should have moved leadership"
        if nemesis == "isolate-leader":
            assert all(len(f["cut"]) == 4 for f in faults)  # "* -> x" and "x -> *"


@needs_etcd
def test_etcd_election_shows_the_lease_split_brain(tmp_path: Path) -> None:
    res = chaoskit_cli(tmp_path, "run", "--target", "etcd-election", "--nemesis", "pause-leader",
                       "--nodes", "3", "--time-limit", "25", "--fault-seconds", "6",
                       "--heal-seconds", "6", "--seed", "3", "--no-progress")  # fmt: skip
    assert res.code == 1, res.stdout + res.stderr
    checker = res.results()["checkers"]["split-brain"]
    assert checker["metrics"]["policy"] == "strict"
    anomaly = checker["anomalies"][0]
    assert len(set(anomaly["nodes"])) == 2
    paused = {n for r in res.records("nemesis.jsonl") if r["type"] == "start" for n in r["down"]}
    assert paused & set(anomaly["nodes"]), "the paused leader is one of the two"
    logs = "".join(p.read_text() for p in (res.run_dir / "logs").glob("*.log"))
    assert "session expired" in logs
    # with fencing the stale claim would be harmless: per-term accepts the same streams
    recheck = chaoskit_cli(tmp_path, "check", str(res.run_dir), "--policy", "per-term")
    assert recheck.code == 0, recheck.stdout + recheck.stderr


@pytest.fixture
def outside_proxy() -> Iterator[str]:
    """A Toxiproxy-compatible server the run only knows by URL (as a real Toxiproxy)."""
    loop = asyncio.new_event_loop()
    server = ProxyServer(port=0)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_destination_cuts_through_a_real_toxiproxy_are_a_clear_error(
    tmp_path: Path, outside_proxy: str
) -> None:
    res = chaoskit_cli(tmp_path, "run", "--target", "etcd", "--nemesis", "partition",
                       "--toxiproxy-url", outside_proxy, "--seed", "1", "--nodes", "3",
                       "--time-limit", "6", "--fault-seconds", "2", "--heal-seconds", "2",
                       "--no-progress", "--workload", "none")  # fmt: skip
    assert res.code == 2, res.stdout + res.stderr
    assert "--toxiproxy-url" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr
