"""How the linearizable checker spends its budgets over keys, and how it runs out.

Keys take turns (a slice of search each), so a key that fails quickly settles the
verdict however hard another key is; a key that runs out of time or memory is
``unknown`` with the reason. The hard key here is real: 22 concurrent writes of
distinct values and then a read of a value never written, which no search can
settle without trying every order of the writes (about 4 million subsets).
"""

from __future__ import annotations

from typing import Any

from chaoskit.checkers.linearizable import LinearizableChecker
from chaoskit.core.checker import RunData


def _records(key: str, ops: list[tuple[int, str, Any, int, str, Any, int]]) -> list[dict[str, Any]]:
    out = []
    for proc, f, arg, call, outcome, result, ret in ops:
        base = {"process": f"{key}{proc}", "f": f, "key": key}
        out.append({**base, "type": "invoke", "value": arg, "time": call})
        out.append({**base, "type": outcome, "value": result, "time": ret})
    return out


def _hard(key: str, writers: int = 22) -> list[dict[str, Any]]:
    """Many concurrent writes of distinct values, then a read of a value never written."""
    ops = [(p, "write", p, 0, "ok", p, 100 + p) for p in range(1, writers + 1)]
    ops.append((99, "read", None, 200, "ok", -1, 210))
    return _records(key, ops)


def _stale(key: str) -> list[dict[str, Any]]:
    """A write of 1 completes, then a later read returns nothing: not linearizable."""
    return _records(key, [(1, "write", 1, 0, "ok", 1, 10), (2, "read", None, 20, "ok", None, 30)])


def _fine(key: str) -> list[dict[str, Any]]:
    return _records(key, [(1, "write", 1, 0, "ok", 1, 10), (2, "read", None, 20, "ok", 1, 30)])


def _run(records: list[dict[str, Any]], **budgets: float) -> Any:
    records.sort(key=lambda r: r["time"])
    for i, r in enumerate(records):
        r["index"] = i
    checker = LinearizableChecker(**budgets)
    return checker.check(RunData(records, [], [], {"model": "register"}))


def test_a_failing_key_settles_the_verdict_however_hard_another_is() -> None:
    """With an hour of budget, the hard key is still stopped once "bad" has failed
    (were it not, the test would run into pytest's time-out)."""
    result = _run(_hard("hard") + _stale("bad") + _fine("ok"), budget=3600.0)
    assert result.valid is False
    assert [a["key"] for a in result.anomalies] == ["bad"]
    assert result.metrics["unknown_keys"] == ["hard"]
    assert result.metrics["keys"] == 3


def test_every_quickly_failing_key_is_reported() -> None:
    result = _run(_stale("a") + _fine("b") + _stale("c"), budget=60.0)
    assert result.valid is False
    assert sorted(a["key"] for a in result.anomalies) == ["a", "c"]
    assert result.metrics["unknown_keys"] == []


def test_a_key_out_of_time_is_unknown_with_the_reason() -> None:
    result = _run(_hard("hard") + _fine("ok"), budget=0.3)
    assert result.valid == "unknown"
    assert result.metrics["unknown_keys"] == ["hard"]
    assert result.error is not None
    assert "key 'hard'" in result.error and "time budget of 0.3 s" in result.error


def test_a_key_out_of_memory_is_unknown_with_the_reason() -> None:
    """A real search, stopped by the growth of this process's resident memory."""
    result = _run(_hard("hard") + _fine("ok"), budget=3600.0, memory_mb=16)
    assert result.valid == "unknown"
    assert result.metrics["unknown_keys"] == ["hard"]
    assert result.error is not None
    assert "memory budget of 16 MiB exhausted" in result.error
    assert "configurations" in result.error


def test_a_budget_of_zero_still_settles_easy_keys() -> None:
    """Each key gets at least one slice of work, so trivial keys are never unknown."""
    result = _run(_fine("a") + _fine("b"), budget=0.0)
    assert result.valid is True


def test_many_small_keys_are_all_checked() -> None:
    """Thousands of keys take their turns (each settles in its first slice)."""
    records: list[dict[str, Any]] = []
    for k in range(5000):
        records += _fine(f"k{k}")
    records += _stale("k-bad")
    result = _run(records, budget=60.0)
    assert result.valid is False
    assert result.metrics["keys"] == 5001
    assert [a["key"] for a in result.anomalies] == ["k-bad"]
