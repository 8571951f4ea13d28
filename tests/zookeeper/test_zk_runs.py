"""A real 3-server ZooKeeper ensemble through ``chaoskit run``, one run per nemesis.

Each run starts three JVMs (Debian's ZooKeeper 3.8, installed by ``.ci/run``), puts
its quorum and election traffic through per-pair proxies, drives the ``register``
workload through kazoo and must pass every checker. Beyond the verdict, each test
checks that the fault really bit: the reign of the leader it hit ended (a later epoch
was led), so the proxies (both peer ports) and the runtime reached the JVMs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

BASE = (
    "run",
    "--target",
    "zookeeper",
    "--nodes",
    "3",
    "--workload",
    "register",
    "--fault-seconds",
    "5",
    "--heal-seconds",
    "5",
    "--no-progress",
)


def _run(cli: Any, nemesis: str, seed: int, limit: int = 22) -> Any:
    res = cli(*BASE, "--nemesis", nemesis, "--time-limit", str(limit), "--seed", str(seed))
    assert res.code == 0, res.stdout + res.stderr
    results = res.results()
    for name in ("split-brain", "stalled-election", "linearizable"):
        assert results["checkers"][name]["valid"] is True, (name, results["checkers"][name])
    return res


def _reign_ended_after_first_fault(res: Any) -> tuple[int, set[int]]:
    """The epoch the first fault's victim led in, and the epochs led in after it started.

    Any node may lead the later epoch: when an election outlasts the fault (a loaded
    machine), the healed victim can win it again, in a new epoch.
    """
    start: dict[str, Any] = next(r for r in res.records("nemesis.jsonl") if r["type"] == "start")
    victim = start["targets"][0]
    leading = [r for r in res.records("observations.jsonl") if r["role"] == "leader"]
    reign = max(r["term"] for r in leading if r["node"] == victim and r["time"] <= start["time"])
    later = {r["term"] for r in leading if r["time"] > start["time"] and r["term"] > reign}
    return reign, later


def _ops_ok(res: Any) -> int:
    return sum(1 for r in res.records("history.jsonl") if r["type"] == "ok")


def test_partition(cli: Any) -> None:
    res = _run(cli, "partition", seed=1)
    starts = [r for r in res.records("nemesis.jsonl") if r["type"] == "start"]
    assert starts and all(r["cut"] for r in starts)
    assert _ops_ok(res) > 50


def test_kill_leader(cli: Any) -> None:
    res = _run(cli, "kill-leader", seed=2)
    reign, later = _reign_ended_after_first_fault(res)
    assert later, f"no epoch after {reign}: the fault did not reach the leader"


def test_pause_leader(cli: Any) -> None:
    res = _run(cli, "pause-leader", seed=3)
    reign, later = _reign_ended_after_first_fault(res)
    assert later, f"no epoch after {reign}: the fault did not reach the leader"


def test_isolate_leader(cli: Any) -> None:
    res = _run(cli, "isolate-leader", seed=4)
    reign, later = _reign_ended_after_first_fault(res)
    assert later, f"no epoch after {reign}: the fault did not reach the leader"
    assert _ops_ok(res) > 50


def test_missing_installation_is_exit_2(cli: Any, tmp_path: Path) -> None:
    res = cli(*BASE, "--nemesis", "partition", "--time-limit", "5", "-o", f"java-dir={tmp_path}")
    assert res.code == 2, res.stdout + res.stderr
    assert "apt-get install -y zookeeper" in res.stdout + res.stderr
    assert "Traceback" not in res.stderr
