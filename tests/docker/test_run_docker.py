"""`chaoskit run --runtime docker`: the issue-9 acceptance runs, through the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaoskit.runtimes import registry
from chaoskit.runtimes.containers import leftovers

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def _run(store: Path, *args: str) -> tuple[int, str, dict[str, Any], list[dict[str, Any]]]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "chaoskit", "run", "--runtime", "docker", "--no-progress", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=store,
        env=env,
    )
    run_dir = (store / "runs" / "latest").resolve()
    results = (
        json.loads((run_dir / "results.json").read_text())
        if (run_dir / "results.json").exists()
        else {}
    )
    faults = (
        [json.loads(x) for x in (run_dir / "nemesis.jsonl").read_text().splitlines()]
        if (run_dir / "nemesis.jsonl").exists()
        else []
    )
    config = json.loads((run_dir / "config.json").read_text())
    assert leftovers(config["run_id"], client=None) == []  # containers and network removed
    assert registry.read(config["run_id"]) is None  # and the run left the registry
    return proc.returncode, proc.stdout + proc.stderr, results, faults


def test_raft_partition_in_containers_is_valid(images: list[str], tmp_path: Path) -> None:
    code, out, results, faults = _run(
        tmp_path, "--nemesis", "partition", "--nodes", "3", "--time-limit", "20", "--seed", "4"
    )
    assert code == 0, out
    assert any(f["type"] == "start" and f["cut"] for f in faults)
    assert results["checkers"]["linearizable"]["valid"] is True


def test_bully_partition_in_containers_splits(images: list[str], tmp_path: Path) -> None:
    code, out, results, _ = _run(
        tmp_path,
        "--target",
        "bully",
        "--nemesis",
        "partition",
        "--nodes",
        "5",
        "--time-limit",
        "20",
        "--seed",
        "3",
    )
    assert code == 1, out
    assert results["checkers"]["split-brain"]["anomalies"]


def test_kill_leader_in_containers_reports_failover(images: list[str], tmp_path: Path) -> None:
    code, out, results, faults = _run(
        tmp_path,
        "--nemesis",
        "kill-leader",
        "--nodes",
        "3",
        "--time-limit",
        "20",
        "--seed",
        "6",
        "--workload",
        "none",
    )
    assert code == 0, out
    assert any(f["type"] == "start" and f["down"] for f in faults)
    assert results["checkers"]["stalled-election"]["metrics"]["failover_ms"]["max"] > 0


def test_iptables_network_mode_partitions(images: list[str], tmp_path: Path) -> None:
    code, out, results, faults = _run(
        tmp_path,
        "--network",
        "iptables",
        "--nemesis",
        "partition",
        "--nodes",
        "3",
        "--time-limit",
        "20",
        "--seed",
        "2",
        "--workload",
        "none",
    )
    assert code == 0, out
    assert results["valid"] is True
    assert any(f["type"] == "start" and f["cut"] for f in faults)


def test_latency_in_iptables_mode_is_a_clear_error(images: list[str], tmp_path: Path) -> None:
    code, out, _, _ = _run(
        tmp_path,
        "--network",
        "iptables",
        "--nemesis",
        "latency",
        "--nodes",
        "3",
        "--time-limit",
        "8",
        "--workload",
        "none",
    )
    assert code == 2, out
    assert "netem" in out
    assert "Traceback" not in out
