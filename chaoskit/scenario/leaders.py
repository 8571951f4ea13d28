"""The observer's leader stream, as the triggers and roles of a scenario read it.

The engine samples the observer's current leader on every tick and feeds it here.
``LeaderWatch`` keeps what the steps ask about: who leads now (``current``), who led
before (``previous``: the ``old-leader`` role), since when the current answer has held
(``stable_for``), and every change (kept in the tape, so a reader sees what triggered
each step). It is pure, so tests drive it with made-up times.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LeaderWatch:
    """What the leader stream said so far; fed with ``update(now, leader)``."""

    current: str | None = None
    previous: str | None = None
    #: When ``current`` began (seconds of scenario time).
    since: float = 0.0
    #: Every change: ``(time, leader or None)``.
    changes: list[tuple[float, str | None]] = field(default_factory=list)

    def update(self, now: float, leader: str | None) -> None:
        if leader == self.current and self.changes:
            return
        if self.current is not None:
            self.previous = self.current
        self.current = leader
        self.since = now
        self.changes.append((round(now, 3), leader))

    def stable_for(self, now: float) -> float:
        """How long the current leader has led (0 when nobody leads)."""
        return now - self.since if self.current is not None else 0.0

    def last_leader(self) -> str | None:
        """The leader now, or the last one seen when nobody leads now."""
        return self.current if self.current is not None else self.previous
