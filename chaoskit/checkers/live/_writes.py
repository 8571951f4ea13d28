"""The ``lost-writes`` checker, live: the final read compared the moment it comes back.

A write can only be called lost once the final read of the set has come back, after
the final heal; the live check keeps the offline ``AddLedger`` of every add as the
history is written and runs the offline ``compare`` on the first ok ``read-set``, so
the anomalies are reported during the final phase instead of after the teardown and
the other checks. (The set workload reads once; the offline check would use a later
ok read, were there one.)
"""

from __future__ import annotations

from typing import Any

from chaoskit.checkers.live._view import Emit
from chaoskit.checkers.lost_writes import AddLedger, compare, read_set

NAME = "lost-writes"


class LiveLostWrites:
    """Feeds history records to the lost-write rules."""

    def __init__(self, emit: Emit) -> None:
        self.emit = emit
        self.ledger = AddLedger()
        self.done = False

    def record(self, rec: dict[str, Any]) -> None:
        self.ledger.add(rec)
        seen = read_set(rec)
        if seen is None or self.done:
            return
        self.done = True
        for anomaly in compare(self.ledger, rec, seen):
            self.emit(NAME, anomaly)
