"""What the live checks know of a run so far: its settings, its faults, its clock.

The offline functions the live checks reuse read a ``Timeline``; ``LiveRun.timeline``
is that view of the records seen so far, where "the end of the run" is the latest
record: a fault not yet stopped lasts until now, exactly as an offline check of the
run cut at this instant would read it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaoskit.checkers._faults import FaultPairing, FaultSpan
from chaoskit.checkers._timeline import Timeline, deadline_s, node_ids, policy_of

#: An anomaly found live: the offline anomaly's fields, plus ``checker`` and ``found_at``.
Emit = Callable[[str, dict[str, Any]], None]


class LiveRun:
    """The run's settings (from its config.json content) and the records' clock."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.policy = policy_of(config)
        self.deadline_s = deadline_s(config)
        self.deadline_ns = int(self.deadline_s * 1e9)
        self.nodes = node_ids(config, [], [])
        self.faults = FaultPairing()
        #: First observation and latest record (run clock, ns).
        self.first: int | None = None
        self.now = 0

    def advance(self, t: int) -> None:
        self.now = max(self.now, t)

    def fault(self, record: dict[str, Any]) -> FaultSpan | None:
        return self.faults.add(record)

    def timeline(self) -> Timeline:
        """The offline checkers' view of the records seen so far (no samples kept)."""
        first = self.first if self.first is not None else 0
        return Timeline(
            samples=[],
            faults=self.faults.spans,
            nodes=self.nodes,
            first=first,
            last=self.now,
            end=self.now,
            deadline_s=self.deadline_s,
            policy=self.policy,
            config=self.config,
        )
