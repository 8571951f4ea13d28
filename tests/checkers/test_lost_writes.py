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
    assert anomaly["kind"] == "lost-write" and anomaly["element"] == 1
    assert anomaly["start"] == 50  # the time of the final read


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
