"""The lost-writes checker on hand-made set histories."""

from __future__ import annotations

from typing import Any

from chaoskit.checkers.lost_writes import LostWritesChecker
from chaoskit.core.checker import RunData


def run(*events: tuple[int, str, str, Any]) -> RunData:
    records = [
        {"index": i, "time": i * 10, "process": p, "type": t, "f": f, "value": v}
        for i, (p, t, f, v) in enumerate(events)
    ]
    return RunData(records, [], [], {"workload": "set"})


def adds(*elements: tuple[int, Any, str]) -> list[tuple[int, str, str, Any]]:
    out = []
    for proc, element, outcome in elements:
        out.append((proc, "invoke", "add", element))
        out.append((proc, outcome, "add", element))
    return out


def final(values: list[Any]) -> list[tuple[int, str, str, Any]]:
    return [(99, "invoke", "read-set", None), (99, "ok", "read-set", values)]


def test_every_acknowledged_add_present_is_valid() -> None:
    result = LostWritesChecker().check(run(*adds((1, 1, "ok"), (2, 2, "info")), *final([1])))
    assert result.valid is True
    assert result.metrics["acknowledged"] == 1 and result.metrics["lost"] == 0


def test_a_missing_acknowledged_add_is_lost() -> None:
    result = LostWritesChecker().check(run(*adds((1, 1, "ok"), (2, 2, "ok")), *final([2])))
    assert result.valid is False
    [anomaly] = result.anomalies
    assert anomaly["kind"] == "lost-write" and anomaly["elements"] == [1]
    assert anomaly["count"] == 1 and anomaly["acknowledged_then"] == 1
    assert (anomaly["start"], anomaly["end"]) == (0, 10)  # its add, invoked to acknowledged
    assert anomaly["message"] == (
        "the add of 1 acknowledged at 0.00 s is missing from the final read with no fault active"
    )
    assert result.metrics["lost"] == 1 and result.metrics["lost_share"] == 0.5


S = 1_000_000_000


def timed_history(lost_at: set[int], heal_s: float | None = None) -> RunData:
    """Adds 0..99, one every 0.1 s (acknowledged 0.05 s after), those in ``lost_at``
    missing from the final read; a partition from 2 to 6 s (healed at ``heal_s``)."""
    records: list[dict[str, Any]] = []
    for e in range(100):
        t = e * S // 10
        records.append({"time": t, "process": e, "type": "invoke", "f": "add", "value": e})
        records.append({"time": t + S // 20, "process": e, "type": "ok", "f": "add", "value": e})
    survivors = [e for e in range(100) if e not in lost_at]
    records.append({"time": 11 * S, "process": 999, "type": "invoke", "f": "read-set"})
    records.append(
        {"time": 11 * S, "process": 999, "type": "ok", "f": "read-set", "value": survivors}
    )
    nemesis = [{"time": 2 * S, "type": "start", "id": 4, "fault": "isolate-leader", "cut": []}]
    if heal_s is not None:
        nemesis.append(
            {"time": int(heal_s * S), "type": "stop", "id": 4, "fault": "isolate-leader"}
        )
    config = {"workload": "set", "election_deadline": 5.0, "end_time": 12 * S}
    return RunData(records, [], nemesis, config)


def test_lost_adds_are_counted_over_the_whole_history_in_stretches_told_by_faults() -> None:
    # Every other add acknowledged from 2 to 4 s lost, and one lone add at 8.5 s.
    lost = set(range(20, 40, 2)) | {85}
    result = LostWritesChecker().check(timed_history(lost, heal_s=6))
    assert result.valid is False
    assert result.metrics["lost"] == 11 and result.metrics["acknowledged"] == 100
    assert result.metrics["lost_share"] == 0.11
    assert result.metrics["lost_stretches"] == 2
    first, lone = result.anomalies
    assert first["count"] == 10 and first["acknowledged_then"] == 19
    assert first["elements"] == list(range(20, 40, 2))
    assert first["faults"] == ["isolate-leader#4"]
    assert first["message"] == (
        "10 of the 19 adds acknowledged between 2.05 s and 3.85 s are missing from the "
        "final read during isolate-leader#4"
    )
    assert lone["elements"] == [85] and lone["faults"] == []
    assert lone["after_faults"] == [
        {"fault": "isolate-leader#4", "id": 4, "healed_before_ms": 2500.0}
    ]
    assert lone["message"].endswith("after isolate-leader#4, healed 2.50 s before")


def test_an_add_acknowledged_just_before_a_fault_is_told_by_that_fault() -> None:
    run_data = timed_history({50})  # acknowledged at 5.05 s; the partition never heals
    kill = {"time": 5_300_000_000, "type": "start", "id": 5, "fault": "kill-leader", "cut": []}
    run_data.nemesis = [kill]
    [anomaly] = LostWritesChecker().check(run_data).anomalies
    assert anomaly["before_faults"] == [
        {"fault": "kill-leader#5", "id": 5, "began_after_ms": 250.0}
    ]
    assert anomaly["message"].endswith(
        "missing from the final read 250 ms before kill-leader#5 began"
    )


def test_no_acknowledged_add_is_no_evidence() -> None:
    result = LostWritesChecker().check(run(*adds((1, 1, "info"), (2, 2, "fail")), *final([1])))
    assert result.valid == "unknown"
    assert "no add was acknowledged" in (result.error or "")
    assert result.metrics["lost_share"] is None
    # ...but an element nobody added is still an anomaly.
    bad = LostWritesChecker().check(run(*adds((1, 1, "info")), *final([7])))
    assert bad.valid is False


def test_elements_never_added_or_only_failed_are_unexpected() -> None:
    history = run(*adds((1, 1, "fail"), (2, 2, "info")), *final([1, 2, 3]))
    result = LostWritesChecker().check(history)
    assert result.valid is False
    kinds = sorted((a["kind"], a["element"]) for a in result.anomalies)
    assert kinds == [("unexpected-element", 1), ("unexpected-element", 3)]


def test_the_last_ok_read_counts_and_structured_elements_compare_by_value() -> None:
    events = [*adds((1, [1, "a"], "ok")), *final([]), *final([[1, "a"]])]
    assert LostWritesChecker().check(run(*events)).valid is True


def test_without_a_final_read_the_verdict_is_unknown() -> None:
    events = [*adds((1, 1, "ok")), (99, "invoke", "read-set", None), (99, "info", "read-set", None)]
    result = LostWritesChecker().check(run(*events))
    assert result.valid == "unknown" and result.error
