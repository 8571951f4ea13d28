"""The pairings table and the benchmark's scoring, without running any cluster."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

from chaoskit.core import plugins
from chaoskit.run.config import NemesisSpec
from chaoskit.run.plan import build_nemeses
from chaoskit.targets.raft._core import BUGS

NS = 1_000_000_000


def test_every_planted_bug_has_exactly_one_pairing(detection: ModuleType) -> None:
    assert set(detection.PAIRINGS) == set(BUGS)
    for bug, pairing in detection.PAIRINGS.items():
        assert pairing.bug == bug
        assert pairing.kinds, bug
        assert pairing.why, bug


@pytest.mark.parametrize("variant", ["leader", "random"])
def test_every_pairing_names_a_nemesis_workload_and_checker_that_load(
    detection: ModuleType, variant: str
) -> None:
    for pairing in detection.PAIRINGS.values():
        build_nemeses(NemesisSpec.parse(pairing.nemesis_for(variant)))  # parts and options
        workload: Any = plugins.load("workloads", pairing.workload)
        assert pairing.checker in ("split-brain", "stalled-election", *workload.checkers)
        plugins.load("checkers", pairing.checker)


def test_random_counterparts_are_not_aimed_at_the_leader(detection: ModuleType) -> None:
    aimed = [p for p in detection.PAIRINGS.values() if p.random_nemesis is not None]
    assert aimed, "no leader-aware pairing: the leader-vs-random figure would be empty"
    for pairing in aimed:
        assert "leader" in pairing.nemesis
        assert "leader" not in pairing.random_nemesis
    for pairing in detection.PAIRINGS.values():
        if pairing.random_nemesis is None:
            assert "leader" not in pairing.nemesis


def test_command_line_of_a_cell(detection: ModuleType, tmp_path: Any) -> None:
    cell = detection.Cell("stale-read", "stale-read", "random", "isolate", "register", 3)
    argv = detection.chaoskit_argv(cell, 30.0, tmp_path)
    joined = " ".join(argv[1:])
    assert "--nemesis isolate --workload register --time-limit 30 --seed 3" in joined
    assert "-o bug=stale-read" in joined
    assert "--bound-clients 5" in joined  # the pairing's extra arguments
    correct = detection.Cell(None, "stale-read", "leader", "isolate-leader", "register", 3)
    assert "bug=" not in " ".join(detection.chaoskit_argv(correct, 30.0, tmp_path))


def _results(*found: tuple[str, str, int]) -> dict[str, Any]:
    checkers: dict[str, Any] = {}
    for checker, kind, start in found:
        entry = checkers.setdefault(checker, {"valid": False, "anomalies": []})
        entry["anomalies"].append({"kind": kind, "start": start, "message": f"{kind} here"})
    return {"valid": not found, "checkers": checkers}


def test_detected_needs_exit_1_and_the_bugs_own_anomaly(detection: ModuleType) -> None:
    kinds = ("non-linearizable",)
    results = _results(
        ("stalled-election", "stalled-election", 2 * NS),
        ("linearizable", "non-linearizable", 9 * NS),
        ("linearizable", "non-linearizable", 7 * NS),
    )
    cell = detection.score(
        detection.Cell("stale-read", "stale-read", "leader", "x", "register", 1, exit=1),
        results,
        kinds,
    )
    assert cell.detected
    assert cell.first_s == 7.0  # the first anomaly of the bug's kind, not the first of all
    assert cell.kinds == ["non-linearizable", "stalled-election"]
    assert cell.message == "non-linearizable here"

    other = _results(("stalled-election", "stalled-election", 2 * NS))
    lucky = detection.score(
        detection.Cell("stale-read", "stale-read", "leader", "x", "register", 1, exit=1),
        other,
        kinds,
    )
    assert not lucky.detected and lucky.first_s is None

    unknown = detection.score(
        detection.Cell("stale-read", "stale-read", "leader", "x", "register", 1, exit=2),
        results,
        kinds,
    )
    assert not unknown.detected


def test_plan_runs_each_distinct_correct_pairing_once(detection: ModuleType) -> None:
    cells = detection.plan(
        ["lease-read", "stale-read", "double-vote"], [1, 2], [1, 2, 3], ["leader"]
    )
    bug_cells = [c for c in cells if not c.correct]
    correct = [c for c in cells if c.correct]
    assert len(bug_cells) == 6
    assert sorted({(c.nemesis, c.workload) for c in correct}) == [
        ("clock-skew-leader:offset_s=-10;rate=1&isolate-leader", "register"),
        ("isolate-leader", "register"),
        ("partition-majorities-ring", "none"),
    ]
    assert len(correct) == 9
    # A pairing shared by two bugs runs once.
    shared = detection.plan(["stale-read", "stale-read"], [1], [1, 2], ["leader"])
    assert len([c for c in shared if c.correct]) == 2


def test_random_variant_skips_pairings_without_a_leader_aware_nemesis(
    detection: ModuleType,
) -> None:
    cells = detection.plan(["double-vote", "stale-read"], [1], [1], ["random"])
    assert {c.nemesis for c in cells} == {"isolate"}
    assert {c.bug for c in cells} == {"stale-read", None}


def test_tables_count_detections_and_false_alarms(detection: ModuleType) -> None:
    Cell = detection.Cell
    cells = [
        Cell(
            "stale-read",
            "stale-read",
            "leader",
            "isolate-leader",
            "register",
            1,
            exit=1,
            detected=True,
            first_s=4.0,
        ),
        Cell(
            "stale-read",
            "stale-read",
            "leader",
            "isolate-leader",
            "register",
            2,
            exit=1,
            detected=True,
            first_s=8.0,
        ),
        Cell("stale-read", "stale-read", "leader", "isolate-leader", "register", 3, exit=0),
        Cell(None, "stale-read", "leader", "isolate-leader", "register", 1, exit=0),
        Cell(
            None,
            "stale-read",
            "leader",
            "isolate-leader",
            "register",
            2,
            exit=1,
            kinds=["stalled-election"],
        ),
    ]
    [row] = detection.bug_rows(cells, "leader")
    assert (row["detected"], row["runs"], row["median_first_s"]) == (2, 3, 6.0)
    assert row["missed_seeds"] == [3]
    [crow] = detection.correct_rows(cells, "leader")
    assert (crow["runs"], crow["false_alarms"], crow["alarm_seeds"]) == (2, 1, [2])
    text = detection.markdown(cells, 30.0)
    assert "| `stale-read` | `isolate-leader` | `register` |" in text
    assert "2/3 | 6.0 s |" in text
    assert "| `isolate-leader` | `register` | 2 | 1 (stalled-election) |" in text


def test_report_merges_json_files_and_keeps_only_current_pairings(
    detection: ModuleType, tmp_path: Any
) -> None:
    import json
    from dataclasses import asdict

    Cell = detection.Cell
    old = [Cell("early-ack", "early-ack", "leader", "kill-leader", "register", 1, exit=0)]
    new = [
        Cell(
            "early-ack",
            "early-ack",
            "leader",
            "isolate-leader",
            "set",
            s,
            exit=1,
            detected=True,
            first_s=30.0,
        )
        for s in (1, 2)
    ]
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    first.write_text(json.dumps([asdict(c) for c in old]))
    second.write_text(json.dumps([asdict(c) for c in new]))
    cells = detection.load_cells([first, second])
    assert len(cells) == 3
    [row] = detection.bug_rows(cells, "leader")  # the kill-leader cell is not this pairing
    assert (row["nemesis"], row["detected"], row["runs"]) == ("isolate-leader", 2, 2)
