"""Figures of a run: percentiles, durations for messages, the headline of a result.

One definition of a percentile for every checker, report and benchmark: the nearest
rank, so a reported p99 is always a value that was seen. ``headline`` picks from a
checker's metrics the few figures a person reads first, for the report's checker table,
the terminal summary and JUnit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q`` quantile (0 < q <= 1) of ``values``; None when empty.

    >>> percentile([10, 20, 30, 40], 0.5)
    20
    >>> percentile([10, 20, 30, 40], 0.99)
    40
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def percentiles(values: Sequence[float]) -> dict[str, Any]:
    """``count``, ``p50``, ``p99`` and ``max`` (nearest rank), None when there are no values."""
    if not values:
        return {"count": 0, "p50": None, "p99": None, "max": None}
    p50, p99 = percentile(values, 0.50), percentile(values, 0.99)
    assert p50 is not None and p99 is not None
    return {
        "count": len(values),
        "p50": round(p50, 3),
        "p99": round(p99, 3),
        "max": round(max(values), 3),
    }


def ms(ns: int | float) -> float:
    """Nanoseconds as milliseconds, rounded for reports."""
    return round(ns / NS_PER_MS, 3)


def human(ns: int | float) -> str:
    """``412 ms`` or ``2.40 s``: durations in anomaly messages."""
    if ns < NS_PER_S:
        value = ns / NS_PER_MS
        return f"{value:.0f} ms" if value >= 10 else f"{value:.2g} ms"
    return f"{ns / NS_PER_S:.2f} s"


def headline(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """The figures a reader wants first, as (label, text), from a checker's metrics.

    Read by metric name, so any checker that reports these names gets them: longest
    overlap (``max_overlap_ms``, with the time claimed unobserved apart), failover p99
    (``failover_ms``), operations checked (``ops``, or a set workload's acknowledged
    adds) and the share lost (``lost_share``) or failing (``failing_share``).
    """
    out: list[tuple[str, str]] = []
    overlap = metrics.get("max_overlap_ms")
    if isinstance(overlap, int | float):
        text = _ms(overlap)
        unobserved = metrics.get("unobserved_overlap_ms")
        if isinstance(unobserved, int | float) and unobserved > 0:
            text += f" (+{_ms(unobserved)} unobserved)"
        out.append(("longest overlap", text))
    failover = metrics.get("failover_ms")
    if isinstance(failover, dict) and "count" in failover:
        p99 = failover.get("p99")
        count = failover.get("count") or 0
        text = f"{_ms(p99)} ({count} failover{'s' if count != 1 else ''})" if count else "none"
        out.append(("failover p99", text))
    ops = metrics.get("ops")
    if isinstance(ops, int) and not isinstance(ops, bool):
        out.append(("operations checked", f"{ops:,}"))
    elif isinstance(ops, dict) and isinstance(ops.get("by_type"), dict):
        kinds = ops["by_type"]
        done = ", ".join(f"{kinds.get(k, 0):,} {k}" for k in ("ok", "fail", "info"))
        out.append(("operations", done))
    acknowledged = metrics.get("acknowledged")
    if isinstance(acknowledged, int):
        out.append(("operations checked", f"{acknowledged:,} acknowledged adds"))
    if isinstance(metrics.get("lost_share"), int | float) and isinstance(acknowledged, int):
        lost = metrics.get("lost", 0)
        text = f"{_pct(metrics['lost_share'])} ({lost:,} of {acknowledged:,})" if lost else "0 %"
        out.append(("share lost", text))
    if isinstance(metrics.get("failing_share"), int | float) and isinstance(ops, int):
        failing = metrics.get("failing_ops", 0)
        windows, keys = metrics.get("failing_windows", 0), metrics.get("failing_keys", 0)
        text = "0 %"
        if windows:
            text = f"{_pct(metrics['failing_share'])} ({failing:,} of {ops:,} ops"
            text += f" in {windows} window{'s' if windows != 1 else ''}, {keys} key"
            text += "s" if keys != 1 else ""
            text += ")" if metrics.get("failing_counted", True) else "; at least)"
        out.append(("share failing", text))
    return out


def _ms(value: Any) -> str:
    return human(value * NS_PER_MS) if isinstance(value, int | float) else "n/a"


def _pct(share: float) -> str:
    """``32.4 %``, ``0.011 %``, ``0 %``: three significant figures."""
    return f"{share * 100:.3g} %"
