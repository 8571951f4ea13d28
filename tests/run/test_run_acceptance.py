"""Issue 5 acceptance: whole runs through `chaoskit run` on real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.runtimes.local import find_leftovers
from tests.support.eventually import eventually

from .conftest import REPO, chaoskit_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _faults(records: list[dict[str, object]], fault: str) -> tuple[int, int]:
    starts = [r for r in records if r["type"] == "start" and r["fault"] == fault]
    stops = [r for r in records if r["type"] == "stop" and r["fault"] == fault]
    return len(starts), len(stops)


def test_raft_under_partitions_is_valid(store: Path) -> None:
    res = chaoskit_cli(
        store,
        "run",
        "--nemesis",
        "partition",
        "--time-limit",
        "30",
        "--seed",
        "11",
        "--no-progress",
    )
    assert res.code == 0, res.stdout + res.stderr
    starts, stops = _faults(res.records("nemesis.jsonl"), "partition")
    assert starts >= 2 and stops == starts
    results = res.results()
    assert results["valid"] is True
    assert set(results["checkers"]) >= {"split-brain", "stalled-election", "linearizable"}
    assert results["checkers"]["split-brain"]["metrics"]["sampling_interval_ms"]["p50"] <= 25
    for name in (
        "config.json",
        "history.jsonl",
        "observations.jsonl",
        "nemesis.jsonl",
        "results.json",
        "logs/n1.log",
    ):
        assert (res.run_dir / name).exists(), name
    config = json.loads((res.run_dir / "config.json").read_text())
    assert config["seed"] == 11 and "--seed 11" in config["command"]


def test_raft_with_prevote_under_oneway_partitions_is_valid(store: Path) -> None:
    """``-o pre-vote=true`` reaches the nodes (they answer PreVote) and stays correct."""
    res = chaoskit_cli(
        store,
        "run",
        "--nemesis",
        "partition-oneway",
        "--time-limit",
        "20",
        "--seed",
        "5",
        "-o",
        "pre-vote=true",
        "--no-progress",
    )
    assert res.code == 0, res.stdout + res.stderr
    starts, stops = _faults(res.records("nemesis.jsonl"), "partition-oneway")
    assert starts >= 1 and stops == starts
    config = json.loads((res.run_dir / "config.json").read_text())
    assert "-o pre-vote=true" in config["command"]
    assert "pre-vote on" in (res.run_dir / "logs" / "n1.log").read_text()


def test_bully_under_partitions_has_split_brain(store: Path) -> None:
    res = chaoskit_cli(
        store,
        "run",
        "--target",
        "bully",
        "--nemesis",
        "partition",
        "--time-limit",
        "30",
        "--seed",
        "3",
        "--no-progress",
    )
    assert res.code == 1, res.stdout + res.stderr
    anomalies = res.results()["checkers"]["split-brain"]["anomalies"]
    assert anomalies
    assert len(anomalies[0]["nodes"]) >= 2
    assert any(a.get("faults") for a in anomalies)
    assert "split-brain" in res.stdout


def test_raft_kill_leader_reports_failover(store: Path) -> None:
    res = chaoskit_cli(
        store,
        "run",
        "--nemesis",
        "kill-leader",
        "--time-limit",
        "30",
        "--seed",
        "5",
        "--no-progress",
    )
    assert res.code == 0, res.stdout + res.stderr
    metrics = res.results()["checkers"]["stalled-election"]["metrics"]
    assert metrics["failover_ms"]["count"] >= 1
    assert metrics["failover_ms"]["max"] > 0
    kills = [r for r in res.records("nemesis.jsonl") if r["type"] == "start"]
    assert kills and all(r["down"] for r in kills)


def test_sigint_halfway_leaves_nothing_and_a_checkable_run(store: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaoskit",
            "run",
            "--nemesis",
            "partition",
            "--time-limit",
            "60",
            "--seed",
            "2",
            "--no-progress",
        ],
        cwd=store,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Interrupt it under a fault, with load going: once the fault log holds a start.
    eventually(
        lambda: '"type":"start"' in _read(store / "runs" / "latest" / "nemesis.jsonl"),
        "the run to start a fault",
    )
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, out + err
    assert "Traceback" not in err
    assert "interrupted" in err
    run_id = json.loads((store / "runs" / "latest" / "config.json").read_text())["run_id"]
    assert find_leftovers(run_id) == {}  # (other tests' runs may be alive under xdist)
    res = chaoskit_cli(store, "check", "runs/latest")
    assert res.code in (0, 2), res.stdout + res.stderr
    results = json.loads((store / "runs" / "latest" / "results.json").read_text())
    assert results["incomplete"] is True
    assert results["valid"] != True  # noqa: E712 - an interrupted run is never "valid"
    starts, stops = _faults(
        [json.loads(x) for x in (store / "runs/latest/nemesis.jsonl").read_text().splitlines()],
        "partition",
    )
    assert stops == starts  # every fault started was healed


def test_same_seed_same_schedule(store: Path, tmp_path: Path) -> None:
    runs = []
    for sub in ("a", "b"):
        d = tmp_path / sub
        d.mkdir()
        res = chaoskit_cli(
            d,
            "run",
            "--nemesis",
            "partition,kill",
            "--time-limit",
            "12",
            "--seed",
            "99",
            "--nodes",
            "3",
            "--workload",
            "none",
            "--fault-seconds",
            "2",
            "--heal-seconds",
            "2",
            "--no-progress",
        )
        assert res.code in (0, 1), res.stderr
        schedule = json.loads((res.run_dir / "schedule.json").read_text())
        victims = [
            (r["fault"], r["detail"]) for r in res.records("nemesis.jsonl") if r["type"] == "start"
        ]
        runs.append((schedule, victims))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) >= 2  # schedule.json: one step per fault, at least two faults


def _read(path: Path) -> str:
    """A stream as far as it is written (empty before it exists)."""
    try:
        return path.read_text()
    except OSError:
        return ""
