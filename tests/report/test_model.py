"""Reading a run's files into what the report draws."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.errors import ConfigError
from chaoskit.report._model import (
    Interval,
    failover_values,
    fault_spans,
    load_view,
    nemesis_label,
    pair_ops,
    role_intervals,
    sampling_text,
)


def obs(t: int, node: str, role: str, term: int | None = 1) -> dict[str, object]:
    return {"time": t, "node": node, "role": role, "term": term, "leader": None}


def test_samples_fold_into_role_intervals_ending_at_the_run_end() -> None:
    samples = [
        obs(0, "n1", "follower"),
        obs(10, "n1", "follower"),
        obs(20, "n1", "leader", 2),
        obs(30, "n1", "leader", 2),
        obs(40, "n1", "leader", 3),
        obs(50, "n1", "down"),
    ]
    roles = role_intervals(samples, ["n1", "n2"], end=100)
    assert roles["n1"] == [
        Interval(0, 20, "follower"),
        Interval(20, 40, "leader", 2),
        Interval(40, 50, "leader", 3),
        Interval(50, 100, "down"),
    ]
    assert roles["n2"] == []


def test_faults_pair_by_id_and_unhealed_faults_run_to_the_end() -> None:
    log = [
        {"time": 5, "type": "start", "id": 1, "fault": "kill", "down": ["n2"]},
        {"time": 7, "type": "start", "id": 2, "fault": "partition", "detail": {"g": 1}},
        {"time": 9, "type": "stop", "id": 1, "fault": "kill"},
    ]
    spans = fault_spans(log, end=50)
    assert [(s.fault, s.start, s.end, s.healed, s.down) for s in spans] == [
        ("kill", 5, 9, True, ("n2",)),
        ("partition", 7, 50, False, ()),
    ]


def test_ops_pair_per_process_and_open_ones_are_counted() -> None:
    history = [
        {"type": "invoke", "process": 0, "f": "read", "time": 10},
        {"type": "invoke", "process": 1, "f": "write", "time": 12},
        {"type": "info", "process": 1, "f": "write", "time": 112},
        {"type": "ok", "process": 0, "f": "read", "time": 15},
        {"type": "invoke", "process": 0, "f": "cas", "time": 20},
    ]
    points, open_ops = pair_ops(history)
    assert [(p.time, p.latency, p.outcome, p.f) for p in points] == [
        (12, 100, "info", "write"),
        (10, 5, "ok", "read"),
    ]
    assert open_ops == 1


@pytest.mark.parametrize(
    ("config", "label"),
    [
        ({"nemesis": ["kill", "partition:mode=hang"]}, "kill+partition"),
        ({"nemeses": ["pause"]}, "pause"),
        ({"nemesis": "kill"}, "kill"),
        ({}, "none"),
    ],
)
def test_nemesis_label_accepts_the_config_shapes(config: dict[str, object], label: str) -> None:
    assert nemesis_label(config) == label


def test_load_view_of_a_synthetic_run(bad_run: Path) -> None:
    view = load_view(bad_run)
    assert view.nodes == ["n1", "n2", "n3", "n4", "n5"]
    assert view.verdict is False
    kinds = {a["kind"] for a in view.anomalies}
    assert kinds == {"split-brain", "stalled-election"}
    assert all(view.roles[n] for n in view.nodes)
    assert view.faults and view.ops


def test_a_store_resolves_to_its_latest_run(bad_run: Path) -> None:
    assert load_view(bad_run.parent.parent).run_dir == bad_run.resolve()


def test_corrupt_results_are_a_config_error(bad_run: Path) -> None:
    (bad_run / "results.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"results\.json"):
        load_view(bad_run)


def test_a_torn_last_line_is_tolerated_and_noted(bad_run: Path) -> None:
    with open(bad_run / "history.jsonl", "a") as f:
        f.write('{"type": "inv')
    assert load_view(bad_run).torn


def test_not_a_run_dir(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a chaoskit run directory"):
        load_view(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"nodes": 3}))
    assert load_view(tmp_path).nodes == []


def test_failover_values_from_checker_events_or_the_values_list() -> None:
    events = {
        "failover_ms": {"count": 2, "p50": 300.0},
        "failovers": [{"failover_ms": 300.0}, {"failover_ms": None}, {"failover_ms": 90}],
    }
    assert failover_values(events) == [300.0, 90.0]
    assert failover_values({"failover_ms": {"values": [1, 2.5]}}) == [1.0, 2.5]
    assert failover_values({}) == []


def test_sampling_interval_text() -> None:
    assert sampling_text(20) == "20 ms"
    assert sampling_text({"p50": 20.5, "p99": 41, "max": 60}).startswith("20.5 ms (p99 41 ms")
    assert sampling_text(None) == "an interval this run did not record"
