"""Compare nightly summaries: what changed since the last night, and metrics over nights.

Pure functions of ``summary.json`` dicts, so they are tested without running anything.
A cell is matched across nights by its key (``target / nemesis / workload``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Statuses that fail a cell; ``missing``: a run no shard of a merged night reported.
FAILED = ("fail", "error", "missing")


@dataclass
class Changes:
    """Differences between tonight and the previous night."""

    previous: str | None
    new_failures: list[str] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    #: ``(cell, metric, before_ms, now_ms)`` for each failover regression.
    regressions: list[tuple[str, str, float, float]] = field(default_factory=list)
    new_cells: list[str] = field(default_factory=list)


def changes(
    current: dict[str, Any],
    previous: tuple[str, dict[str, Any]] | None,
    *,
    ratio: float,
    min_ms: float,
) -> Changes:
    """New failures, fixed cells and failover regressions against ``previous``."""
    if previous is None:
        return Changes(previous=None)
    name, before = previous
    old = {c["key"]: c for c in before.get("cells", [])}
    out = Changes(previous=name)
    for cell in current.get("cells", []):
        key = cell["key"]
        prior = old.get(key)
        if prior is None:
            out.new_cells.append(key)
            if cell["status"] in FAILED:
                out.new_failures.append(key)
            continue
        if cell["status"] in FAILED and prior.get("status") not in FAILED:
            out.new_failures.append(key)
        if cell["status"] == "pass" and prior.get("status") in FAILED:
            out.fixed.append(key)
        out.regressions += _regressions(key, prior, cell, ratio, min_ms)
    return out


def _regressions(
    key: str, before: dict[str, Any], now: dict[str, Any], ratio: float, min_ms: float
) -> list[tuple[str, str, float, float]]:
    found = []
    for metric in ("p50", "p99"):
        a = (before.get("failover_ms") or {}).get(metric)
        b = (now.get("failover_ms") or {}).get(metric)
        if (
            isinstance(a, int | float)
            and isinstance(b, int | float)
            and (b > a * ratio and b - a >= min_ms)
        ):
            found.append((key, metric, float(a), float(b)))
    return found


def night_series(nights: list[tuple[str, dict[str, Any]]]) -> dict[str, dict[str, list[Any]]]:
    """Per metric, a series per line over ``nights`` (oldest first).

    ``cells``: passing and failing cell counts; ``anomalies``: the total;
    ``failover p50``/``failover p99``: one line per cell (None where a night lacks it).
    """
    keys = list(dict.fromkeys(c["key"] for _, s in nights for c in s.get("cells", [])))
    counts: dict[str, list[Any]] = {"passing": [], "failing": []}
    anomalies: dict[str, list[Any]] = {"anomalies": []}
    p50: dict[str, list[Any]] = {k: [] for k in keys}
    p99: dict[str, list[Any]] = {k: [] for k in keys}
    for _, summary in nights:
        cells = {c["key"]: c for c in summary.get("cells", [])}
        counts["passing"].append(sum(c["status"] == "pass" for c in cells.values()))
        counts["failing"].append(sum(c["status"] in FAILED for c in cells.values()))
        anomalies["anomalies"].append(sum(int(c.get("anomalies", 0)) for c in cells.values()))
        for key in keys:
            figures = (cells.get(key) or {}).get("failover_ms") or {}
            p50[key].append(figures.get("p50"))
            p99[key].append(figures.get("p99"))
    return {"cells": counts, "anomalies": anomalies, "failover p50": p50, "failover p99": p99}
