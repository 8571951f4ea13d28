"""The ``stalled-election`` checker, live: a healthy majority leaderless past the deadline.

The offline ``LeaderlessTracker`` and ``MajorityAnswered`` take each observation; while
a leaderless window is open and longer than the deadline, the window so far (ending
at the latest observation) is cut into healthy stretches by the offline
``segments``/``healthy_stretches`` over the faults so far (with the offline rule that
a node a fault took down stays down until it answers again), and
``stalled_election.overruns`` builds the anomaly of a stretch past the deadline. A
stretch only grows as the window goes on, so the offline check finds the same
stretch, from the same start, longer.
"""

from __future__ import annotations

from chaoskit.checkers._faults import Connectivity, FaultSpan, segments
from chaoskit.checkers._timeline import Sample
from chaoskit.checkers.live._view import Emit, LiveRun
from chaoskit.checkers.stalled_election import (
    LeaderlessTracker,
    MajorityAnswered,
    Window,
    down_until_answered,
    healthy_stretches,
    overruns,
)

NAME = "stalled-election"
#: How often (run time) an open window past the deadline is evaluated.
EVERY_NS = 50_000_000


class LiveStalledElection:
    """Feeds observations and fault stops to the stalled-election rules."""

    def __init__(self, run: LiveRun, emit: Emit) -> None:
        self.run = run
        self.emit = emit
        self.majority = MajorityAnswered(run.nodes)
        self.conn = Connectivity(run.nodes)
        self.windows: LeaderlessTracker | None = None
        #: Fault stops a node taken down has not answered since: node -> stop times.
        self._waiting: dict[str, list[int]] = {}
        #: (node, stop) -> its first answer at or after the stop.
        self._back: dict[tuple[str, int], int] = {}
        self._checked = 0
        self._seen: set[tuple[int, int]] = set()

    def stopped(self, span: FaultSpan) -> None:
        """A fault stopped: each node it took down counts as down until it answers."""
        assert span.stop is not None
        for node in span.down:
            self._waiting.setdefault(node, []).append(span.stop)

    def sample(self, s: Sample) -> None:
        if s.role != "down" and s.node in self._waiting:
            for stop in self._waiting.pop(s.node):
                self._back[(s.node, stop)] = s.time
        if self.windows is None:
            self.windows = LeaderlessTracker(s.time)
        self.windows.add(s)
        up_at = self.majority.add(s)
        window = self.windows.current
        if window is None or up_at is None:
            return
        begin = max(window.start, up_at) if window.initial else window.start
        if s.time - begin > self.run.deadline_ns and s.time - self._checked >= EVERY_NS:
            self._checked = s.time
            self._evaluate(window, begin, s.time)

    def _evaluate(self, window: Window, begin: int, now: int) -> None:
        tl = self.run.timeline()
        spans = down_until_answered(tl.faults, lambda node, t: self._back.get((node, t)))
        relevant = [f for f in spans if f.end(now) > begin]
        segs = segments(self.conn, relevant, begin, now, now)
        so_far = Window(
            window.start,
            end=now,
            initial=window.initial,
            terms=set(window.terms),
            counted_from=begin,
        )
        for anomaly in overruns(tl, so_far, healthy_stretches(so_far, segs)):
            key = (window.start, anomaly["start"])
            if key not in self._seen:
                self._seen.add(key)
                self.emit(NAME, anomaly)
