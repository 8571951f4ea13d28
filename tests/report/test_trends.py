"""What changed since last night: pure comparisons of summaries."""

from __future__ import annotations

from typing import Any

from chaoskit.report._trends import changes, night_series


def cell(
    key: str, status: str, p50: float | None = None, p99: float | None = None, anomalies: int = 0
) -> dict[str, Any]:
    return {
        "key": key,
        "status": status,
        "anomalies": anomalies,
        "failover_ms": {"p50": p50, "p99": p99},
    }


def test_first_night_has_nothing_to_compare() -> None:
    assert changes({"cells": [cell("a", "fail")]}, None, ratio=1.2, min_ms=50).previous is None


def test_new_failures_fixed_and_new_cells() -> None:
    before = {"cells": [cell("a", "pass"), cell("b", "fail"), cell("c", "error")]}
    now = {
        "cells": [
            cell("a", "fail"),
            cell("b", "pass"),
            cell("c", "error"),
            cell("d", "error"),
            cell("e", "pass"),
        ]
    }
    diff = changes(now, ("night1", before), ratio=1.2, min_ms=50)
    assert diff.new_failures == ["a", "d"]
    assert diff.fixed == ["b"]
    assert diff.new_cells == ["d", "e"]


def test_regression_needs_both_the_ratio_and_the_minimum() -> None:
    before = {
        "cells": [
            cell("a", "pass", 100, 200),
            cell("b", "pass", 10, 20),
            cell("c", "pass", 1000, 2000),
        ]
    }
    now = {
        "cells": [
            cell("a", "pass", 300, 210),
            cell("b", "pass", 40, 60),
            cell("c", "pass", 1100, 2100),
        ]
    }
    diff = changes(now, ("n", before), ratio=1.25, min_ms=100)
    assert diff.regressions == [("a", "p50", 100.0, 300.0)]


def test_series_over_nights_leave_gaps_for_missing_cells() -> None:
    nights = [
        ("n1", {"cells": [cell("a", "pass", 10, 20, 0)]}),
        ("n2", {"cells": [cell("a", "fail", 15, 30, 2), cell("b", "pass", 5, 6)]}),
    ]
    series = night_series(nights)
    assert series["cells"] == {"passing": [1, 1], "failing": [0, 1]}
    assert series["anomalies"] == {"anomalies": [0, 2]}
    assert series["failover p50"] == {"a": [10, 15], "b": [None, 5]}
    assert series["failover p99"]["a"] == [20, 30]
