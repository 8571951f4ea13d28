"""A real 3-server NATS JetStream cluster through ``chaoskit run``.

Each run starts three ``nats-server`` processes (Debian's, installed by setup.sh) with
route traffic through one proxy per node (destination mode), observes the meta
leader (or the KV bucket's leader) from ``/jsz``, and drives the workload through the
nats-py client plug-in. Whatever verdict a run reaches is a finding (docs/targets/
nats.md): these tests check that the run completes with a stored verdict, that the
client ops really happened, and that the fault bit (leadership moved).
"""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

BASE = ("run", "--target", "nats", "--nodes", "3", "--no-progress")


def _run(cli: Any, *args: str) -> Any:
    """A run with the target's own schedule: faults of 12 s and heals of 10 s, the first
    only once every server names the observed group's leader (``ready = "roles"``)."""
    res = cli(*BASE, *args, timeout=280)
    assert res.code in (0, 1), res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "not ready" not in res.stdout + res.stderr
    results = res.results()
    assert results["valid"] in (True, False) and not results.get("incomplete"), results
    config = res.config()
    assert (config["fault_s"], config["heal_s"], config["ready"]) == (12, 10, "roles")
    assert config["ready_s"] is not None
    return res


def _leaders_around_first_fault(res: Any) -> tuple[str, set[str]]:
    start = next(r for r in res.records("nemesis.jsonl") if r["type"] == "start")
    victim = start["detail"].get("leader") or start["detail"].get("node")
    leading = [r for r in res.records("observations.jsonl") if r["role"] == "leader"]
    after = {r["node"] for r in leading if r["time"] > start["time"]}
    return victim, after


def test_register_isolate_leader(cli: Any) -> None:
    res = _run(cli, "--workload", "register", "--nemesis", "isolate-leader",
               "--time-limit", "30", "--seed", "1")  # fmt: skip
    victim, after = _leaders_around_first_fault(res)
    assert after - {victim}, f"nobody but {victim} led after it was isolated ({res.run_dir})"
    history = res.records("history.jsonl")
    oks = {r["f"] for r in history if r["type"] == "ok"}
    assert oks == {"read", "write", "cas"}, (oks, res.run_dir)
    assert "linearizable" in res.results()["checkers"]


def test_set_kill_reads_back_the_stream(cli: Any) -> None:
    res = _run(cli, "--workload", "set", "--nemesis", "kill", "-o", "group=stream",
               "--time-limit", "30", "--seed", "2")  # fmt: skip
    # Ready means every server named the stream's leader before the first fault.
    start = next(r for r in res.records("nemesis.jsonl") if r["type"] == "start")
    before = [r for r in res.records("observations.jsonl") if r["time"] < start["time"]]
    assert {r["node"] for r in before if r["role"] in ("leader", "follower")} == {"n1", "n2", "n3"}
    history = res.records("history.jsonl")
    final = [r for r in history if r["f"] == "read-set" and r["type"] == "ok"]
    assert final and len(final[-1]["value"]) > 50, "no final read of the stream"
    lost = res.results()["checkers"]["lost-writes"]
    assert lost["valid"] in (True, False)
    roles = {r["role"] for r in res.records("observations.jsonl")}
    assert "leader" in roles and "down" in roles  # the stream had a leader; kill bit


def test_ops_and_status_without_faults(cli: Any) -> None:
    res = _run(cli, "--workload", "register", "--nemesis", "none", "-o", "group=kv",
               "--time-limit", "8", "--seed", "3")  # fmt: skip
    leaders = {r["node"] for r in res.records("observations.jsonl") if r["role"] == "leader"}
    assert len(leaders) == 1, leaders  # the bucket's one leader, seen by its own server
    checkers = res.results()["checkers"]
    assert checkers["split-brain"]["valid"] is True
    assert sum(r["type"] == "ok" for r in res.records("history.jsonl")) > 100


def test_missing_server_is_exit_2(cli: Any) -> None:
    res = cli(*BASE, "--nemesis", "none", "--time-limit", "2", "-o", "binary=/nonexistent/x")
    assert res.code == 2, res.stdout + res.stderr
    assert "apt-get install -y nats-server" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr
