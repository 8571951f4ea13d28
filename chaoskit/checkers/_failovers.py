"""Failover times for the ``stalled-election`` checker (stalled_election.py): from each
heal, and each fault start that cut the leader off, to the next stable leader.

A leader is stable once one node's streak of leader answers in one term is long
enough (``STABLE_SAMPLES`` answers or ``STABLE_NS``) and, when the target reports who
it follows, a majority of the answering nodes agree on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chaoskit.checkers._faults import Connectivity, FaultSpan
from chaoskit.checkers._timeline import Sample, Timeline
from chaoskit.checkers.figures import NS_PER_MS, ms

#: A leader is stable once its streak has this many samples or lasts this long.
STABLE_SAMPLES = 3
STABLE_NS = 100 * NS_PER_MS


@dataclass
class _Streak:
    term: int | None
    start: int
    last: int
    count: int = 1


class _LeaderState:
    """The latest answer of every node, and each claiming node's current streak."""

    def __init__(self, check_agreement: bool) -> None:
        self.check_agreement = check_agreement
        self.latest: dict[str, Sample] = {}
        self.streaks: dict[str, _Streak] = {}

    def update(self, s: Sample) -> None:
        self.latest[s.node] = s
        if s.role != "leader":
            self.streaks.pop(s.node, None)
            return
        streak = self.streaks.get(s.node)
        if streak is not None and streak.term == s.term:
            streak.last = s.time
            streak.count += 1
        else:
            self.streaks[s.node] = _Streak(s.term, s.time, s.time)

    def current_leader(self) -> str | None:
        """The claiming node of the highest term (most recent answer breaks ties)."""
        best = max(
            self.streaks.items(),
            key=lambda item: (-1 if item[1].term is None else item[1].term, item[1].last),
            default=None,
        )
        return best[0] if best else None

    def stable_leader(self, since: int, fresh_streak: bool) -> str | None:
        """A stable, agreed leader with evidence after ``since`` (see the module docstring)."""
        for node, streak in self.streaks.items():
            if streak.last < since or (fresh_streak and streak.start <= since):
                continue
            if streak.count < STABLE_SAMPLES and streak.last - streak.start < STABLE_NS:
                continue
            if self.check_agreement and not self._agreed(node):
                continue
            return node
        return None

    def _agreed(self, node: str) -> bool:
        answering = [s for s in self.latest.values() if s.role != "down"]
        agree = sum(1 for s in answering if s.leader == node or s.node == node)
        return 2 * agree > len(answering)


def failovers(tl: Timeline, conn: Connectivity, horizon: int) -> list[dict[str, Any]]:
    """Time from each heal (and each fault start that cut off the leader) to a stable leader."""
    events: list[tuple[int, str, FaultSpan]] = []
    for f in tl.faults:
        if f.start <= horizon:
            events.append((f.start, "start", f))
        if f.stop is not None and f.stop <= horizon:
            events.append((f.stop, "heal", f))
    events.sort(key=lambda e: (e[0], e[1] == "start"))
    state = _LeaderState(check_agreement=any(s.leader is not None for s in tl.samples))
    pending: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    k = 0
    for s in tl.samples:
        if s.time > horizon:
            break
        while k < len(events) and events[k][0] < s.time:
            event = _event(tl, conn, state, *events[k])
            if event is not None:
                pending.append(event)
            k += 1
        state.update(s)
        still: list[dict[str, Any]] = []
        for event in pending:
            leader = state.stable_leader(event["time"], event["event"] == "start")
            if leader is None:
                still.append(event)
            else:
                event.update(leader=leader, failover_ms=ms(s.time - event["time"]))
                out.append(event)
        pending = still
    for event in pending:
        event.update(leader=None, failover_ms=None)
    return sorted([*out, *pending], key=lambda e: e["time"])


def _event(
    tl: Timeline, conn: Connectivity, state: _LeaderState, t: int, kind: str, fault: FaultSpan
) -> dict[str, Any] | None:
    """The failover event for a fault boundary, or None for a start that spared the leader."""
    leader = state.current_leader()
    if kind == "start" and (leader is None or leader in conn.members_at(tl.faults, t, tl.end)):
        return None
    return {
        "time": t,
        "event": kind,
        "fault": fault.label,
        "fault_id": fault.id,
        "leader_before": leader,
    }
