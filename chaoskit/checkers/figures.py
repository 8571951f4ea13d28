"""Figures of a run: percentiles, durations for messages.

One definition of a percentile for every checker, report and benchmark: the nearest
rank, so a reported p99 is always a value that was seen.
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
