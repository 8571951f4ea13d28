"""Thin out client-op points so a long run's report stays small and quick to open.

Only the latency scatter is thinned; role intervals, faults and anomalies never are.
Within each outcome the time axis is cut into buckets and each bucket keeps its
fastest and slowest op, so the envelope of the cloud (and every outlier spike) is
still there. Rare outcomes (fail, info) keep all their points unless they alone
exceed their share.
"""

from __future__ import annotations

from collections import defaultdict

from chaoskit.report._model import OpPoint

#: Points drawn in the latency scatter at most; about 90 bytes each in SVG.
DEFAULT_BUDGET = 8000


def downsample(points: list[OpPoint], budget: int = DEFAULT_BUDGET) -> list[OpPoint]:
    """At most about ``budget`` points, keeping each outcome's extremes over time."""
    if len(points) <= budget:
        return list(points)
    by_outcome: dict[str, list[OpPoint]] = defaultdict(list)
    for p in points:
        by_outcome[p.outcome].append(p)
    shares = _shares({k: len(v) for k, v in by_outcome.items()}, budget)
    kept: list[OpPoint] = []
    for outcome, group in by_outcome.items():
        kept += _envelope(group, shares[outcome])
    return sorted(kept, key=lambda p: p.time)


def _shares(counts: dict[str, int], budget: int) -> dict[str, int]:
    """Give small groups all they need first, then split the rest evenly."""
    shares: dict[str, int] = {}
    left, pending = budget, sorted(counts, key=lambda k: counts[k])
    while pending:
        fair = left // len(pending)
        name = pending.pop(0)
        shares[name] = min(counts[name], max(fair, 2))
        left -= shares[name]
    return shares


def _envelope(group: list[OpPoint], cap: int) -> list[OpPoint]:
    """Min and max latency of each of ``cap // 2`` time buckets."""
    if len(group) <= cap:
        return group
    buckets = max(cap // 2, 1)
    t0 = min(p.time for p in group)
    span = max(max(p.time for p in group) - t0, 1)
    low: dict[int, OpPoint] = {}
    high: dict[int, OpPoint] = {}
    for p in group:
        b = min((p.time - t0) * buckets // span, buckets - 1)
        if b not in low or p.latency < low[b].latency:
            low[b] = p
        if b not in high or p.latency > high[b].latency:
            high[b] = p
    return list({id(p): p for p in [*low.values(), *high.values()]}.values())
