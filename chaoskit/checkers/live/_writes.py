"""The ``lost-writes`` checker, live: the final read compared the moment it comes back.

A write can only be called lost once the final read of the set has come back, after
the final heal; the live check keeps the offline ``AddLedger`` of every add as the
history is written and runs the offline ``compare`` on the first ok ``read-set``, so
the anomalies are reported during the final phase instead of after the teardown and
the other checks. (The set workload reads once; the offline check would use a later
ok read, were there one.) Each lost stretch is told by the faults seen so far, as the
offline check tells it by the whole fault log: by the final read every fault has been
healed, so the two name the same faults.
"""

from __future__ import annotations

from typing import Any

from chaoskit.checkers._faults import FaultContext, fault_context
from chaoskit.checkers.live._view import Emit, LiveRun
from chaoskit.checkers.lost_writes import STRETCH_GAP_NS, AddLedger, compare, read_set

NAME = "lost-writes"


class LiveLostWrites:
    """Feeds history records to the lost-write rules."""

    def __init__(self, run: LiveRun, emit: Emit) -> None:
        self.emit = emit
        self.run = run
        self.ledger = AddLedger()
        self.done = False

    def record(self, rec: dict[str, Any]) -> None:
        self.ledger.add(rec)
        seen = read_set(rec)
        if seen is None or self.done:
            return
        self.done = True
        self.run.advance(int(rec.get("time") or 0))
        for anomaly in compare(self.ledger, rec, seen, self._tell):
            self.emit(NAME, anomaly)

    def _tell(self, start: int, stop: int) -> FaultContext:
        """The faults of the window, as the offline check finds them (with its lead: an
        add acknowledged just before its leader went is lost by that fault)."""
        run = self.run
        return fault_context(
            run.faults.spans, start, stop, run.now, run.deadline_ns, lead=STRETCH_GAP_NS
        )
