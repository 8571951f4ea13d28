"""The ``lost-writes`` checker: every acknowledged add is in the final read of the set.

The set workload adds elements (``f: "add"``) and, after the final heal, reads the
whole set once (``f: "read-set"``, ok value the list of elements). Against the last
ok ``read-set``:

- an element whose add was acknowledged (``ok``) but is missing is *lost*;
- an element present that no add tried, or whose every add failed (``fail``:
  definitely not done), is *unexpected*;
- adds that timed out (``info``) or never completed may be there or not.

Without an ok final read there is nothing to compare: the verdict is ``unknown``.
"""

from __future__ import annotations

from typing import Any

from chaoskit.checkers._models import freeze
from chaoskit.core.checker import CheckResult, RunData
from chaoskit.core.records import Record


class LostWritesChecker:
    """Acknowledged adds must survive into the final read of the set."""

    name = "lost-writes"
    description = "every acknowledged add is in the final read; nothing never added appears"

    def check(self, run: RunData) -> CheckResult:
        """Compare the adds of ``run.history`` with its last ok ``read-set``."""
        adds = _adds(run.history)
        final = _final_read(run.history)
        metrics: dict[str, Any] = {
            "acknowledged": sum(1 for s in adds.values() if s == "ok"),
            "attempted": len(adds),
        }
        if final is None:
            return CheckResult(
                valid="unknown",
                metrics=metrics,
                error="no ok final read-set in the history: cannot tell what survived",
            )
        record, seen = final
        lost = [e for e, status in adds.items() if status == "ok" and e not in seen]
        unexpected = [e for e in seen if adds.get(e) in (None, "fail")]
        metrics |= {"final_read": len(seen), "lost": len(lost), "unexpected": len(unexpected)}
        anomalies = [_anomaly("lost-write", e, record, adds) for e in lost]
        anomalies += [_anomaly("unexpected-element", e, record, adds) for e in unexpected]
        return CheckResult(valid=not anomalies, anomalies=anomalies, metrics=metrics)


def _adds(history: list[Record]) -> dict[Any, str]:
    """Element -> the best outcome any add of it got (ok > info > fail > invoked)."""
    rank = {"invoke": 0, "fail": 1, "info": 2, "ok": 3}
    pending: dict[Any, Any] = {}
    status: dict[Any, str] = {}
    for rec in history:
        if rec.get("f") != "add":
            continue
        kind = rec.get("type")
        proc = rec.get("process")
        if kind == "invoke":
            element = freeze(rec.get("value"))
            pending[proc] = element
            status.setdefault(element, "invoke")
        elif proc in pending and kind in rank:
            element = pending.pop(proc)
            if rank[kind] > rank[status[element]]:
                status[element] = kind
    return status


def _final_read(history: list[Record]) -> tuple[Record, set[Any]] | None:
    for rec in reversed(history):
        if rec.get("f") == "read-set" and rec.get("type") == "ok":
            value = rec.get("value")
            elements = value if isinstance(value, list) else []
            return rec, {freeze(v) for v in elements}
    return None


def _anomaly(kind: str, element: Any, final: Record, adds: dict[Any, str]) -> dict[str, Any]:
    shown = list(element) if isinstance(element, tuple) else element
    if kind == "lost-write":
        message = f"add of {shown!r} was acknowledged but is missing from the final read"
    else:
        why = "every add of it failed" if element in adds else "no client ever added it"
        message = f"the final read holds {shown!r}, but {why}"
    return {
        "kind": kind,
        "element": shown,
        "start": final.get("time", 0),
        "end": final.get("time", 0),
        "message": message,
    }
