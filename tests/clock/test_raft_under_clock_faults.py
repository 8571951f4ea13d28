"""Issue 8 on the reference Raft cluster: bumped nodes see the bumped time, the
recorded timeline does not move, and correct Raft stays safe under every clock nemesis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from chaoskit.run.cluster import ChaosCluster
from chaoskit.run.config import NemesisSpec, RunConfig

pytestmark = [pytest.mark.integration, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def test_a_bumped_node_sees_the_bumped_time(tmp_path: Path) -> None:
    config = RunConfig(
        target="raft",
        nemeses=[NemesisSpec("clock-bump")],
        nodes=3,
        workload="none",
        store=tmp_path / "runs",
        seed=3,
        progress=False,
    )
    cluster = ChaosCluster(config.with_seed())
    try:
        cluster.wait_for_leader()
        cluster.apply("clock-bump:max_offset_s=300;count=all")
        start = cluster.controller.clock.now()
        time.sleep(1.0)
        skews = {}
        for node in cluster.controller.nodes:
            status = httpx.get(f"{node.url}/status", timeout=5).json()
            skews[node.id] = status["clock"] - time.time()
        offsets = json.loads((cluster.run_dir / "nemesis.jsonl").read_text().splitlines()[0])
        drawn = {n: c["offset_s"] for n, c in offsets["detail"]["clocks"].items()}
        for node, offset in drawn.items():
            assert abs(skews[node] - offset) < 5, (skews, drawn)
        assert any(abs(o) > 10 for o in drawn.values())
        elapsed = cluster.controller.clock.now() - start
        assert 0.9e9 < elapsed < 30e9  # the controller's timeline did not jump with them
        cluster.heal()
        time.sleep(0.5)
        for node in cluster.controller.nodes:
            status = httpx.get(f"{node.url}/status", timeout=5).json()
            assert abs(status["clock"] - time.time()) < 2
        result = cluster.check()
    finally:
        cluster.close()
    assert result.valid is True, result.describe()


@pytest.mark.parametrize(
    "nemesis", ["clock-bump", "clock-strobe:count=leader", "clock-rate", "clock-skew-leader"]
)
def test_correct_raft_stays_safe_under_clock_faults(tmp_path: Path, nemesis: str) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaoskit",
            "run",
            "--nemesis",
            nemesis,
            "--nodes",
            "3",
            "--time-limit",
            "15",
            "--seed",
            "1",
            "--no-progress",
            "--workload",
            "register",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run_dir = (tmp_path / "runs" / "latest").resolve()
    faults = [json.loads(x) for x in (run_dir / "nemesis.jsonl").read_text().splitlines()]
    starts = [f for f in faults if f["type"] == "start"]
    assert starts and all(f["detail"]["clocks"] for f in starts)
    assert len([f for f in faults if f["type"] == "stop"]) == len(starts)
