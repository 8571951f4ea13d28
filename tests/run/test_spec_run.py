"""A target spec file end to end: the shipped examples/raft.toml, run for real.

The spec path builds its launch, status and client operations from the TOML alone
(no Python of the target's), so this run exercises what a user's service gets.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from .conftest import REPO, chaoskit_cli

pytestmark = [pytest.mark.integration]
EXAMPLE = REPO / "examples" / "raft.toml"


def test_the_raft_spec_runs_under_partitions_and_checks_linearizable(
    store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The spec says `python3`: the one of this environment, which imports chaoskit.targets.raft.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    res = chaoskit_cli(
        store,
        "run",
        "--target",
        str(EXAMPLE),
        "--nodes",
        "3",
        "--nemesis",
        "partition",
        "--workload",
        "register",
        "--time-limit",
        "12",
        "--seed",
        "5",
        "--no-progress",
    )
    assert res.code == 0, res.stdout + res.stderr
    results = res.results()
    for name in ("split-brain", "stalled-election", "linearizable"):
        assert results["checkers"][name]["valid"] is True, (name, results["checkers"][name])
    history = res.records("history.jsonl")
    assert sum(1 for r in history if r["type"] == "ok") > 30
    leaders = {r["node"] for r in res.records("observations.jsonl") if r["role"] == "leader"}
    assert leaders, "the spec's status mapping never saw a leader"
    faults = [r for r in res.records("nemesis.jsonl") if r["type"] == "start"]
    assert faults and all(f["cut"] for f in faults)
