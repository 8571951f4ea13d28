"""A 9-node reference Raft cluster under every nemesis combined (short time limit).

"Correctly" means: the safety checks hold (no split brain within a term, a
linearizable history), every fault started was stopped, no client op went missing
from the history, and nothing is left behind. The nodes run with slower ticks
(``-o tick-ms=40``) and a generous election deadline: nine Python nodes on a shared
2-core machine miss 10 ms ticks, and a stalled election caused by CPU starvation is
not what this test is about (benchmarks/endurance.py reports liveness figures).
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from chaoskit.runtimes.local import find_leftovers

from .conftest import Session, read_records, starts_and_stops

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ALL_NEMESES = (
    "partition,partition-bridge,partition-majorities-ring,partition-oneway,isolate,"
    "isolate-leader,kill,kill-leader,pause,pause-leader,latency,clock-bump,clock-rate,"
    "clock-strobe,clock-skew-leader"
)


def test_nine_nodes_under_every_nemesis(session: Session) -> None:
    res = session.cli(
        "run",
        "--nodes",
        "9",
        "--nemesis",
        ALL_NEMESES,
        "--time-limit",
        "30",
        "--seed",
        "9",
        "--no-progress",
        "-o",
        "tick-ms=40",
        "--election-deadline",
        "30",
        "--fault-seconds",
        "3",
        "--heal-seconds",
        "2",
        timeout=400,
    )
    assert "Traceback" not in res.stderr
    assert res.returncode in (0, 1), res.stdout + res.stderr
    run_dir = session.latest
    results = json.loads((run_dir / "results.json").read_text())
    checkers = results["checkers"]
    assert checkers["split-brain"]["valid"] is True, checkers["split-brain"]
    assert checkers["linearizable"]["valid"] is True, checkers["linearizable"]
    assert results["incomplete"] is False
    assert len(json.loads((run_dir / "config.json").read_text())["nodes"]) == 9

    starts, stops = starts_and_stops(run_dir)
    assert len(starts) >= 3 and starts == stops
    kinds = {r["nemesis"] for r in read_records(run_dir / "nemesis.jsonl")}
    assert len(kinds) >= 2, kinds

    history = read_records(run_dir / "history.jsonl")
    assert [r["index"] for r in history] == list(range(len(history)))
    per_process = Counter(
        (r["process"], "invoke" if r["type"] == "invoke" else "done") for r in history
    )
    processes = {p for p, _ in per_process}
    assert processes
    for p in processes:  # every invocation has its completion (ok, fail or info)
        assert per_process[(p, "invoke")] == per_process[(p, "done")], p

    assert find_leftovers(session.config()["run_id"]) == {}
    assert session.registry() == []
