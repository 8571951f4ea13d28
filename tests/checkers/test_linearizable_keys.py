"""The order in which the linearizable checker spends its budget over keys.

Budgets are observed by wrapping ``check_key``, not by timing: a key that fails
settles the verdict, so the hard keys left then must not get the full budget.
"""

from __future__ import annotations

from typing import Any

import pytest

from chaoskit.checkers import linearizable
from chaoskit.checkers.linearizable import QUICK_BUDGET, KeyVerdict, LinearizableChecker
from chaoskit.core.checker import RunData


def _records(key: str, ops: list[tuple[int, str, Any, int, str, Any, int]]) -> list[dict[str, Any]]:
    out = []
    for proc, f, arg, call, outcome, result, ret in ops:
        base = {"process": f"{key}{proc}", "f": f, "key": key}
        out.append({**base, "type": "invoke", "value": arg, "time": call})
        out.append({**base, "type": outcome, "value": result, "time": ret})
    return out


def _hard(key: str) -> list[dict[str, Any]]:
    """22 concurrent writes of distinct values, then a read of a value never written."""
    ops = [(p, "write", p, 0, "ok", p, 100 + p) for p in range(1, 23)]
    ops.append((99, "read", None, 200, "ok", -1, 210))
    return _records(key, ops)


def _stale(key: str) -> list[dict[str, Any]]:
    """A write of 1 completes, then a later read returns nothing: not linearizable."""
    return _records(key, [(1, "write", 1, 0, "ok", 1, 10), (2, "read", None, 20, "ok", None, 30)])


def _fine(key: str) -> list[dict[str, Any]]:
    return _records(key, [(1, "write", 1, 0, "ok", 1, 10), (2, "read", None, 20, "ok", 1, 30)])


def _run(records: list[dict[str, Any]], budget: float) -> Any:
    records.sort(key=lambda r: r["time"])
    for i, r in enumerate(records):
        r["index"] = i
    checker = LinearizableChecker(budget=budget)
    return checker.check(RunData(records, [], [], {"model": "register"}))


@pytest.fixture
def budgets(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, float, Any]]:
    """Every (key, budget, verdict) that ``check_key`` saw, in call order."""
    seen: list[tuple[Any, float, Any]] = []
    real = linearizable.check_key

    def spy(key: Any, ops: Any, model: Any, budget: float) -> KeyVerdict:
        verdict = real(key, ops, model, budget)
        seen.append((key, budget, verdict.valid))
        return verdict

    monkeypatch.setattr(linearizable, "check_key", spy)
    return seen


def test_a_failing_key_spares_the_hard_key_its_full_budget(budgets: list[Any]) -> None:
    result = _run(_hard("hard") + _stale("bad") + _fine("ok"), budget=3600.0)
    assert result.valid is False
    assert [a["key"] for a in result.anomalies] == ["bad"]
    assert result.metrics["unknown_keys"] == ["hard"]
    assert result.metrics["keys"] == 3
    assert all(budget <= QUICK_BUDGET for key, budget, _ in budgets if key == "hard")


def test_every_quickly_failing_key_is_reported(budgets: list[Any]) -> None:
    result = _run(_stale("a") + _fine("b") + _stale("c"), budget=60.0)
    assert result.valid is False
    assert sorted(a["key"] for a in result.anomalies) == ["a", "c"]
    assert {key for key, _, _ in budgets} == {"a", "b", "c"}


def test_with_no_failure_a_hard_key_gets_the_full_budget(budgets: list[Any]) -> None:
    full = QUICK_BUDGET + 0.2
    result = _run(_hard("hard") + _fine("ok"), budget=full)
    assert result.valid == "unknown"
    assert result.metrics["unknown_keys"] == ["hard"]
    assert [budget for key, budget, _ in budgets if key == "hard"] == [QUICK_BUDGET, full]


def test_a_small_budget_is_not_exceeded_by_the_first_pass(budgets: list[Any]) -> None:
    result = _run(_hard("hard") + _fine("ok"), budget=0.0)
    assert result.valid == "unknown"
    assert [budget for key, budget, _ in budgets if key == "hard"] == [0.0]
