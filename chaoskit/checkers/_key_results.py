"""The ``linearizable`` checker's result, from the verdicts of its keys.

- How much of the history fails, not only whether: each failing key's anomaly lists
  its failing windows over the whole history (``_windows.later_windows``), and the
  metrics add them up: ``failing_keys``, ``failing_windows``, ``failing_ops`` and
  their share of the operations checked, ``failing_share``. For a register there is
  no sound per-write "lost" count (docs/workloads-and-checkers.md): the same
  history comes from a lost write and from a stale read, so the figure is the
  operations no order explains, in windows that each fail on their own.
- Evidence: a history in which no operation observed the state (no ok read, no ok
  compare-and-set) cannot show a violation; ``observing_ops`` counts those that did.
- Each anomaly, and each of its windows, names the faults active in it or healed
  shortly before (``_faults.fault_context``).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaoskit.checkers._faults import fault_context, read_faults
from chaoskit.checkers._history import CompactHistory
from chaoskit.checkers._models import CAS, CAS_MISS, READ, ValueModel
from chaoskit.checkers._search import Operation
from chaoskit.checkers._timeline import MAX_LISTED, deadline_s
from chaoskit.checkers.figures import NS_PER_S
from chaoskit.core.checker import CheckResult, RunData, Verdict, merge_verdicts
from chaoskit.core.records import Record

#: Steps that observe a key's state: an ok read, an ok compare-and-set, and a failed
#: one where ``fail`` means "compared and found another value".
_OBSERVING = frozenset({READ, CAS, CAS_MISS})
#: Where an anomaly's message goes on from its first window to its key's figures.
_TOTAL = "; in all: "


@dataclass
class KeyVerdict:
    """The verdict for one key, and on failure the windows that show it."""

    key: Hashable
    valid: Verdict
    ops: int
    seconds: float
    blocked: Operation | None = None
    window: list[Operation] | None = None
    #: Why the verdict is ``unknown`` (which budget ran out).
    reason: str | None = None
    #: Failing windows after the first, each failing from any state the key may hold.
    later: list[list[Operation]] = field(default_factory=list)
    #: Whether ``later`` covers the key's whole history (False: a budget ran out).
    counted: bool = True

    @property
    def windows(self) -> list[list[Operation]]:
        return [self.window or [], *self.later] if self.valid is False else []


def observing_ops(history: CompactHistory) -> int:
    """How many operations observed a key's state (the evidence a verdict rests on)."""
    observing = [step[0] in _OBSERVING for step in history.steps]
    return sum(observing[s] for k in history.keys.values() for s in k.step)


def result(
    verdicts: list[KeyVerdict], history: CompactHistory, model: ValueModel, seconds: float
) -> CheckResult:
    """The checker's result: verdict, one anomaly per failing key, figures."""
    busiest = max(verdicts, key=lambda v: v.ops, default=None)
    unknown = [v for v in verdicts if v.valid == "unknown"]
    failed = [v for v in verdicts if v.valid is False]
    failed.sort(key=lambda v: len(v.window or ()))
    ops = sum(v.ops for v in verdicts)
    failing_ops = sum(len(w) for v in failed for w in v.windows)
    metrics: dict[str, Any] = {
        "checked": True,
        "model": model.name,
        "ops": ops,
        "observing_ops": observing_ops(history),
        "keys": len(verdicts),
        "seconds": round(seconds, 3),
        "busiest_key": show_key(busiest.key) if busiest else None,
        "busiest_key_ops": busiest.ops if busiest else 0,
        "unknown_keys": [show_key(v.key) for v in unknown],
        "failing_keys": len(failed),
        "failing_windows": sum(len(v.windows) for v in failed),
        "failing_ops": failing_ops,
        "failing_share": round(failing_ops / ops, 4) if ops else None,
        "failing_counted": all(v.counted for v in failed) and not unknown,
    }
    valid = merge_verdicts([v.valid for v in verdicts])
    error = None
    if valid == "unknown":
        error = "; ".join(f"key {show_key(v.key)!r}: {v.reason}" for v in unknown[:3])
        if len(unknown) > 3:
            error += f"; and {len(unknown) - 3} more keys"
    return CheckResult(
        valid=valid,
        anomalies=[_anomaly(v, history, model) for v in failed],
        metrics=metrics,
        error=error,
    )


def show_key(key: Hashable) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _anomaly(v: KeyVerdict, history: CompactHistory, model: ValueModel) -> dict[str, Any]:
    window = v.window or []
    records: list[Record] = []
    for op in window:
        records.append(history.record(op.inv))
        if op.done >= 0:
            records.append(history.record(op.done))
    records.sort(key=lambda r: (r.get("time", 0), r.get("index", 0)))
    start, end = _span(window)
    blocked = v.blocked
    what = (
        f"{model.describe(blocked.step)} by process {history.record(blocked.inv).get('process')}"
        if blocked is not None
        else "an operation"
    )
    windows = v.windows
    count = sum(len(w) for w in windows)
    more = "" if v.counted else " (counting stopped early: at least)"
    total = (
        f"{_TOTAL}{len(windows)} failing windows, {count} of the key's {v.ops} operations{more}"
        if len(windows) > 1 or not v.counted
        else ""
    )
    return {
        "kind": "non-linearizable",
        "key": show_key(v.key),
        "keys": [show_key(v.key)],
        "start": start,
        "end": end,
        "ops": records,
        "windows": [_window_json(w) for w in windows[:MAX_LISTED]],
        "failing_windows": len(windows),
        "failing_ops": count,
        "counted": v.counted,
        "message": (
            f"key {show_key(v.key)!r}: no order of these {len(window)} operations is legal "
            f"for a {model.name}; the search never got past the return of {what}{total}"
        ),
    }


def _span(window: Sequence[Operation]) -> tuple[int, int]:
    start = min((op.call for op in window), default=0)
    end = max((op.ret for op in window if op.ret is not None), default=start)
    return start, end


def _window_json(window: Sequence[Operation]) -> dict[str, Any]:
    start, end = _span(window)
    return {"start": start, "end": end, "ops": len(window)}


def tell_faults(result: CheckResult, run: RunData) -> CheckResult:
    """Name in each anomaly, and each of its windows, the faults that tell it."""
    if not result.anomalies:
        return result
    faults = read_faults(run.nemesis)
    end_time = run.config.get("end_time")
    times = [r.get("time") for r in run.history[-1:]] + [f.start for f in faults]
    run_end = (
        int(end_time)
        if isinstance(end_time, int | float)
        else max((int(t) for t in times if isinstance(t, int | float)), default=0)
    )
    window = int(deadline_s(run.config) * NS_PER_S)
    for anomaly in result.anomalies:
        context = fault_context(faults, anomaly["start"], anomaly["end"], run_end, window)
        anomaly.update(context.fields())
        # The faults tell the first window: they go right after its description.
        head, sep, total = anomaly["message"].partition(_TOTAL)
        anomaly["message"] = f"{head} {context.text()}{sep}{total}"
        for w in anomaly.get("windows", []):
            w.update(fault_context(faults, w["start"], w["end"], run_end, window).fields())
    return result
