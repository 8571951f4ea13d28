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
        ledger = AddLedger()
        for rec in run.history:
            ledger.add(rec)
        adds = ledger.status
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
        anomalies = compare(adds, record, seen)
        lost = sum(1 for a in anomalies if a["kind"] == "lost-write")
        metrics |= {"final_read": len(seen), "lost": lost, "unexpected": len(anomalies) - lost}
        return CheckResult(valid=not anomalies, anomalies=anomalies, metrics=metrics)


class AddLedger:
    """Element -> the best outcome any add of it got (ok > info > fail > invoked), one
    history record at a time (offline and live)."""

    RANK = {"invoke": 0, "fail": 1, "info": 2, "ok": 3}

    def __init__(self) -> None:
        self._pending: dict[Any, Any] = {}
        self.status: dict[Any, str] = {}

    def add(self, rec: Record) -> None:
        if rec.get("f") != "add":
            return
        kind = rec.get("type")
        proc = rec.get("process")
        if kind == "invoke":
            element = freeze(rec.get("value"))
            self._pending[proc] = element
            self.status.setdefault(element, "invoke")
        elif proc in self._pending and kind in self.RANK:
            element = self._pending.pop(proc)
            if self.RANK[kind] > self.RANK[self.status[element]]:
                self.status[element] = kind


def read_set(rec: Record) -> set[Any] | None:
    """The elements of an ok ``read-set`` record (None for any other record)."""
    if rec.get("f") != "read-set" or rec.get("type") != "ok":
        return None
    value = rec.get("value")
    return {freeze(v) for v in (value if isinstance(value, list) else [])}


def compare(adds: dict[Any, str], final: Record, seen: set[Any]) -> list[dict[str, Any]]:
    """The lost and unexpected elements of the final read ``final`` (elements ``seen``)."""
    lost = [e for e, status in adds.items() if status == "ok" and e not in seen]
    unexpected = [e for e in seen if adds.get(e) in (None, "fail")]
    anomalies = [_anomaly("lost-write", e, final, adds) for e in lost]
    return anomalies + [_anomaly("unexpected-element", e, final, adds) for e in unexpected]


def _final_read(history: list[Record]) -> tuple[Record, set[Any]] | None:
    for rec in reversed(history):
        seen = read_set(rec)
        if seen is not None:
            return rec, seen
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
