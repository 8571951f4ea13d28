"""The ``stats`` checker: figures about a run, never a verdict against it.

It answers "what did this run actually exercise?": how many client operations of each
kind came back ok / fail / info, how often each node was observed and in which role,
the sampling interval reached (the precision of the leader checks), and which faults
were applied for how long. A run that applied no fault or served no operation is still
valid; the figures let a reader notice that it proved little.

The observer aims at one sample of each node every ``observe_interval_ms`` (config);
when the p99 of the intervals reached is more than ``SAMPLING_SLACK`` times that, the
machine could not keep up (too many nodes, too much load) and ``metrics["warnings"]``
says so: overlaps shorter than the p99 interval can go unseen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from chaoskit.checkers._faults import FaultSpan, read_faults
from chaoskit.checkers._timeline import (
    MAX_LISTED,
    Sample,
    find_claims,
    latencies,
    samples_of,
    sampling_intervals,
)
from chaoskit.checkers.figures import ms, percentiles
from chaoskit.core.checker import CheckResult, RunData
from chaoskit.core.records import Record

#: Observer interval when the run does not record its own (runs before it did).
DEFAULT_INTERVAL_MS = 20.0
#: The p99 sampling interval may exceed the observer's interval by this factor.
SAMPLING_SLACK = 1.25


class StatsChecker:
    """Operation counts, observation figures and the faults applied; always valid."""

    name = "stats"
    description = "operation counts by type and function, sampling interval, faults applied"

    def check(self, run: RunData) -> CheckResult:
        """Figures only: ``valid`` is always True (the run's verdict comes from the others)."""
        samples = samples_of(run.observations)
        faults = read_faults(run.nemesis)
        last = max([0, *(s.time for s in samples), *(f.start for f in faults)])
        end_time = run.config.get("end_time")
        end = int(end_time) if isinstance(end_time, int | float) else last
        metrics: dict[str, Any] = {
            "duration_ms": ms(end),
            "incomplete": run.incomplete,
            "ops": op_counts(run.history),
            "observations": observation_counts(samples, faults),
            "sampling_interval_ms": sampling_intervals(samples),
            "observation_latency_ms": latencies(samples),
            "faults": fault_summary(faults, end),
        }
        metrics["warnings"] = sampling_warnings(metrics["sampling_interval_ms"], run.config)
        return CheckResult(valid=True, metrics=metrics)


def sampling_warnings(intervals: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """A warning when the observer did not keep its interval at p99 (see the docstring)."""
    target = config.get("observe_interval_ms") or DEFAULT_INTERVAL_MS
    goal = float(target) * SAMPLING_SLACK
    p99 = intervals.get("p99")
    if p99 is None or p99 <= goal:
        return []
    return [
        f"the observer did not keep its {float(target):g} ms sampling interval: p99 "
        f"{p99:.0f} ms (goal {goal:g} ms, {len(config.get('nodes') or [])} nodes); "
        f"two leaders overlapping for less than that can go unseen"
    ]


def op_counts(history: Iterable[Record]) -> dict[str, Any]:
    """Completions by type, and by function then type (``{"read": {"ok": 40, ...}}``)."""
    pairs = Counter((str(op.get("f")), str(op.get("type"))) for op in history)
    by_type: Counter[str] = Counter()
    by_f: dict[str, dict[str, int]] = {}
    for (f, kind), count in sorted(pairs.items()):
        by_type[kind] += count
        by_f.setdefault(f, {})[kind] = count
    return {
        "total": sum(by_type.values()),
        "by_type": dict(sorted(by_type.items())),
        "by_f": by_f,
    }


def observation_counts(
    samples: Sequence[Sample], faults: Sequence[FaultSpan] = ()
) -> dict[str, Any]:
    """Samples by node and role, and how many leadership claims and terms they show
    (claims as the split-brain checker reads them: ``faults`` hide the nodes they took
    down)."""
    pairs = Counter((s.node, s.role) for s in samples)
    by_node: dict[str, dict[str, int]] = {}
    for (node, role), count in sorted(pairs.items()):
        by_node.setdefault(node, {})[role] = count
    claims = find_claims(samples, faults)
    terms = {s.term for s in samples if s.term is not None}
    return {
        "total": len(samples),
        "by_node": by_node,
        "claims": len(claims),
        "leaders": sorted({c.node for c in claims}),
        "max_term": max(terms, default=None),
    }


def fault_summary(faults: Sequence[FaultSpan], end: int) -> dict[str, Any]:
    """Count and total time per fault name, and each fault's window."""
    by_name: dict[str, list[FaultSpan]] = {}
    for f in faults:
        by_name.setdefault(f.fault, []).append(f)
    return {
        "total": len(faults),
        "never_stopped": sum(1 for f in faults if f.stop is None),
        "by_fault": {
            name: {
                "count": len(group),
                "total_ms": ms(sum(f.end(end) - f.start for f in group)),
                "duration_ms": percentiles([ms(f.end(end) - f.start) for f in group]),
            }
            for name, group in sorted(by_name.items())
        },
        "applied": [
            {
                "fault": f.label,
                "id": f.id,
                "start": f.start,
                "stop": f.stop,
                "duration_ms": ms(f.end(end) - f.start),
                "down": sorted(f.down),
                "cut": len(f.cut),
            }
            for f in faults[:MAX_LISTED]
        ],
    }
