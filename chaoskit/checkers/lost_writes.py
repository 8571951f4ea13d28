"""The ``lost-writes`` checker: every acknowledged add is in the final read of the set.

The set workload adds elements (``f: "add"``) and, after the final heal, reads the
whole set once (``f: "read-set"``, ok value the list of elements). Against the last
ok ``read-set``:

- an element whose add was acknowledged (``ok``) but is missing is *lost*;
- an element present that no add tried, or whose every add failed (``fail``:
  definitely not done), is *unexpected*;
- adds that timed out (``info``) or never completed may be there or not.

How much was lost is the figure a reader needs first: ``lost`` of ``acknowledged``
and their ratio ``lost_share``, over the whole history. The lost adds are reported
in stretches of acknowledgement time (one anomaly per stretch, adds acknowledged
less than ``STRETCH_GAP_NS`` apart), each with how many adds acknowledged in it were
lost and the faults active then, healed shortly before, or beginning within
``STRETCH_GAP_NS`` after (an add acknowledged just before its leader was killed is
lost by the kill), so "4,092 lost" reads as "the adds acknowledged while the old
primary was cut off".

Without an ok final read there is nothing to compare, and without an acknowledged
add nothing could be lost: both give ``unknown`` (no evidence), never valid.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from typing import Any

from chaoskit.checkers._faults import FaultContext, FaultSpan, fault_context, read_faults
from chaoskit.checkers._models import freeze
from chaoskit.checkers._timeline import MAX_LISTED, deadline_s
from chaoskit.checkers.figures import NS_PER_S
from chaoskit.core.checker import CheckResult, RunData
from chaoskit.core.records import Record

#: Lost adds acknowledged less than this apart are one stretch, one anomaly.
STRETCH_GAP_NS = 1 * NS_PER_S


class LostWritesChecker:
    """Acknowledged adds must survive into the final read of the set."""

    name = "lost-writes"
    description = "every acknowledged add is in the final read; nothing never added appears"

    def check(self, run: RunData) -> CheckResult:
        """Compare the adds of ``run.history`` with its last ok ``read-set``."""
        ledger = AddLedger()
        for rec in run.history:
            ledger.add(rec)
        acknowledged = ledger.acknowledged
        metrics: dict[str, Any] = {"acknowledged": acknowledged, "attempted": len(ledger.status)}
        final = _final_read(run.history)
        if final is None:
            return CheckResult(
                valid="unknown",
                metrics=metrics,
                error="no ok final read-set in the history: cannot tell what survived",
            )
        record, seen = final
        faults = read_faults(run.nemesis)
        end, window = _run_end(run, faults), int(deadline_s(run.config) * NS_PER_S)

        def tell(start: int, stop: int) -> FaultContext:
            # A write acknowledged just before its leader went is lost by that fault.
            return fault_context(faults, start, stop, end, window, lead=STRETCH_GAP_NS)

        anomalies = compare(ledger, record, seen, tell)
        lost = sum(a.get("count", 1) for a in anomalies if a["kind"] == "lost-write")
        metrics |= {
            "final_read": len(seen),
            "lost": lost,
            "lost_share": round(lost / acknowledged, 4) if acknowledged else None,
            "lost_stretches": sum(1 for a in anomalies if a["kind"] == "lost-write"),
            "unexpected": sum(1 for a in anomalies if a["kind"] == "unexpected-element"),
        }
        if anomalies:
            return CheckResult(valid=False, anomalies=anomalies, metrics=metrics)
        if not acknowledged:
            why = "no add was acknowledged: nothing could be lost (no evidence)"
            return CheckResult(valid="unknown", metrics=metrics, error=why)
        return CheckResult(valid=True, metrics=metrics)


class AddLedger:
    """Element -> the best outcome any add of it got (ok > info > fail > invoked), and
    when its first acknowledged add was invoked and acknowledged; one history record
    at a time (offline, and live as the history is written)."""

    RANK = {"invoke": 0, "fail": 1, "info": 2, "ok": 3}

    def __init__(self) -> None:
        self._pending: dict[Any, tuple[Any, int]] = {}
        self.status: dict[Any, str] = {}
        #: element -> (invoke time, ok time) of its first acknowledged add.
        self.acked: dict[Any, tuple[int, int]] = {}

    @property
    def acknowledged(self) -> int:
        return len(self.acked)

    def add(self, rec: Record) -> None:
        if rec.get("f") != "add":
            return
        kind = rec.get("type")
        proc = rec.get("process")
        t = rec.get("time")
        t = int(t) if isinstance(t, int | float) else 0
        if kind == "invoke":
            element = freeze(rec.get("value"))
            self._pending[proc] = (element, t)
            self.status.setdefault(element, "invoke")
        elif proc in self._pending and kind in self.RANK:
            element, invoked = self._pending.pop(proc)
            if self.RANK[kind] > self.RANK[self.status[element]]:
                self.status[element] = kind
            if kind == "ok":
                self.acked.setdefault(element, (invoked, t))


def read_set(rec: Record) -> set[Any] | None:
    """The elements of an ok ``read-set`` record (None for any other record)."""
    if rec.get("f") != "read-set" or rec.get("type") != "ok":
        return None
    value = rec.get("value")
    return {freeze(v) for v in (value if isinstance(value, list) else [])}


#: The faults that tell a window ``[start, end]`` (``_faults.fault_context`` of a run).
Tell = Callable[[int, int], FaultContext]


def compare(
    ledger: AddLedger, final: Record, seen: set[Any], tell: Tell | None = None
) -> list[dict[str, Any]]:
    """The lost stretches and unexpected elements of the final read (elements ``seen``)."""
    adds = ledger.status
    lost = sorted(
        ((times, e) for e, times in ledger.acked.items() if e not in seen),
        key=lambda item: item[0][1],
    )
    acks = sorted(t for _, t in ledger.acked.values())
    anomalies = [_stretch(group, acks, tell) for group in _stretches(lost)]
    unexpected = [e for e in seen if adds.get(e) in (None, "fail")]
    return anomalies + [_unexpected(e, final, adds) for e in unexpected]


def _stretches(
    lost: Sequence[tuple[tuple[int, int], Any]],
) -> list[list[tuple[tuple[int, int], Any]]]:
    """Lost adds (sorted by acknowledgement) grouped: a gap of ``STRETCH_GAP_NS`` splits."""
    groups: list[list[tuple[tuple[int, int], Any]]] = []
    for item in lost:
        if groups and item[0][1] - groups[-1][-1][0][1] < STRETCH_GAP_NS:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _stretch(
    group: Sequence[tuple[tuple[int, int], Any]], acks: Sequence[int], tell: Tell | None
) -> dict[str, Any]:
    """One ``lost-write`` anomaly: the adds acknowledged in a stretch and missing."""
    start = min(invoked for (invoked, _), _ in group)
    first, last = group[0][0][1], group[-1][0][1]
    then = bisect.bisect_right(acks, last) - bisect.bisect_left(acks, first)
    elements = [_shown(e) for _, e in group]
    context = tell(start, last) if tell else None
    fields, text = (context.fields(), context.text()) if context else ({}, "")
    if len(group) == 1:
        what = f"the add of {elements[0]!r} acknowledged at {_s(last)}"
    else:
        what = f"{len(group)} of the {then} adds acknowledged between {_s(first)} and {_s(last)}"
    return {
        "kind": "lost-write",
        "count": len(group),
        "acknowledged_then": then,
        "elements": elements[:MAX_LISTED],
        "start": start,
        "end": last,
        **fields,
        "message": f"{what} {'is' if len(group) == 1 else 'are'} missing from the final "
        f"read {text}".rstrip(),
    }


def _unexpected(element: Any, final: Record, adds: dict[Any, str]) -> dict[str, Any]:
    why = "every add of it failed" if element in adds else "no client ever added it"
    return {
        "kind": "unexpected-element",
        "element": _shown(element),
        "start": final.get("time", 0),
        "end": final.get("time", 0),
        "message": f"the final read holds {_shown(element)!r}, but {why}",
    }


def _shown(element: Any) -> Any:
    return list(element) if isinstance(element, tuple) else element


def _s(ns: int) -> str:
    return f"{ns / NS_PER_S:.2f} s"


def _final_read(history: list[Record]) -> tuple[Record, set[Any]] | None:
    for rec in reversed(history):
        seen = read_set(rec)
        if seen is not None:
            return rec, seen
    return None


def _run_end(run: RunData, faults: Sequence[FaultSpan]) -> int:
    """The end of the run, for faults never stopped: ``end_time``, else the last record."""
    end = run.config.get("end_time")
    if isinstance(end, int | float):
        return int(end)
    times = [r.get("time") for r in run.history[-1:]] + [f.start for f in faults]
    return max((int(t) for t in times if isinstance(t, int | float)), default=0)
