"""The ``stalled-election`` checker: no leader for too long while a majority could elect one.

Rules (docs/architecture.md, "What the leader checks mean"):

- At each instant the cluster "has a leader" when some node's latest observation says
  it is leader (any term: simple, and documented so a reader knows what was counted).
  A leaderless window runs from the observation that left no node claiming to the one
  that made a node claim again.
- The clock of a window runs only while a majority is up and connected (``_timeline``
  ``Connectivity``; node ids from ``config["nodes"]``, ``down``/``cut`` from the active
  faults). Each contiguous healthy stretch inside a leaderless window is measured on its
  own: a stretch longer than ``config["election_deadline"]`` seconds is a
  ``stalled-election`` anomaly. Time without a healthy majority never counts, and a heal
  restarts the clock.
- A node a fault took down (killed, paused) counts as down until it answers again
  after the fault stopped, not from the stop itself: a killed node restarted at the
  heal is still loading its interpreter and its log and cannot vote yet (the same
  reason as ``cluster_up_ms`` below). A node that never answers again stays down.
- The first window runs from the first observation to the first leader
  (``first_leader_ms``). The cluster's first election counts too, but its clock starts
  only once more than half of the nodes have answered at all (``cluster_up_ms``): the
  observer starts with the processes, and a node still loading cannot vote.
- Observations after ``config["end_time"]`` are ignored, and a window still open at the
  last observation ends there (``open: true``): time nobody observed is not counted, so a
  run cut short is judged only on what it saw.
- Failover: for every fault stop (heal), and every fault start that took the current
  leader down or out of every healthy majority, the time until a stable leader is seen:
  a node whose current run of "leader" answers in one term has at least 3 samples or
  spans 100 ms, named as ``leader`` by more than half of the answering nodes (checked
  only when the target reports ``leader`` at all), with evidence after the event (after
  a fault start, a leadership streak begun after it). Reported as ``failover_ms``
  (count, p50, p99, max) and per event in ``failovers``; never an anomaly by itself.
- A run without anomalies that is ``incomplete`` is ``"unknown"``, and so is a run in
  which a majority of nodes never answered (nothing could be judged).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaoskit.checkers._failovers import failovers
from chaoskit.checkers._faults import (
    Connectivity,
    FaultSpan,
    Segment,
    fault_context,
    segments,
)
from chaoskit.checkers._timeline import (
    MAX_LISTED,
    Sample,
    Timeline,
    load_timeline,
    sampling_intervals,
    verdict,
)
from chaoskit.checkers.figures import human, ms, percentiles
from chaoskit.core.checker import CheckResult, RunData


@dataclass
class Window:
    """A leaderless stretch of observed time."""

    start: int
    end: int = 0
    initial: bool = False
    open: bool = False
    terms: set[int] = field(default_factory=set)
    #: When the deadline clock may start: later than ``start`` for the start-up window.
    counted_from: int = 0


def cluster_up_at(samples: Sequence[Sample], nodes: Sequence[str]) -> int | None:
    """When more than half of the nodes had answered at least once (None: never).

    The observer starts with the nodes, so its first answers are often connection
    errors from processes still loading; an election cannot start before the nodes do.
    """
    watch = MajorityAnswered(nodes)
    for s in samples:
        if watch.add(s) is not None:
            return watch.up_at
    return None


class MajorityAnswered:
    """``cluster_up_at`` one sample at a time (offline and live)."""

    def __init__(self, nodes: Sequence[str]) -> None:
        self.need = len(nodes) // 2 + 1
        self.answered: set[str] = set()
        self.up_at: int | None = None

    def add(self, s: Sample) -> int | None:
        """The time the majority first answered, once it has."""
        if self.up_at is None and s.role != "down" and s.node not in self.answered:
            self.answered.add(s.node)
            if len(self.answered) >= self.need:
                self.up_at = s.time
        return self.up_at


def until_answered(tl: Timeline) -> list[FaultSpan]:
    """The faults, plus for each node one took down a span from the stop to its next answer.

    Only the connectivity of the deadline clock uses these extra spans; failovers and
    anomaly messages name the faults of the nemesis log as they are.
    """
    answers: dict[str, list[int]] = {}
    for s in tl.samples:
        if s.role != "down":
            answers.setdefault(s.node, []).append(s.time)

    def back(node: str, since: int) -> int | None:
        times = answers.get(node, [])
        i = bisect.bisect_left(times, since)
        return times[i] if i < len(times) else None

    return down_until_answered(tl.faults, back)


def down_until_answered(
    faults: Sequence[FaultSpan], back: Callable[[str, int], int | None]
) -> list[FaultSpan]:
    """``until_answered`` given ``back(node, t)``: the node's first answer at or after
    ``t`` (None: none yet), from the whole run offline or from what came so far live."""
    out = list(faults)
    for f in faults:
        if f.stop is None:
            continue
        for node in sorted(f.down):
            answer = back(node, f.stop)
            if answer is None or answer > f.stop:
                out.append(FaultSpan(f.id, f.fault, f.stop, answer, frozenset({node})))
    return sorted(out, key=lambda f: f.start)


def leaderless_windows(samples: Sequence[Sample], horizon: int) -> list[Window]:
    """Windows in which no node's latest answer was "leader", up to ``horizon``."""
    if not samples:
        return []
    tracker = LeaderlessTracker(samples[0].time)
    for s in samples:
        if s.time > horizon:
            break
        tracker.add(s)
    current = tracker.current
    if current is not None:
        current.end = max(current.start, min(horizon, samples[-1].time))
        current.open = True
        tracker.windows.append(current)
    return tracker.windows


class LeaderlessTracker:
    """Leaderless windows one sample at a time: ``current`` is the open one (None while
    some node's latest answer says it leads), ``windows`` the closed ones."""

    def __init__(self, first: int) -> None:
        self._leading: dict[str, bool] = {}
        self._count = 0
        self.windows: list[Window] = []
        self.current: Window | None = Window(first, initial=True)

    def add(self, s: Sample) -> None:
        now = s.role == "leader"
        if now != self._leading.get(s.node, False):
            self._leading[s.node] = now
            self._count += 1 if now else -1
            if now and self._count == 1 and self.current is not None:
                self.current.end = s.time
                self.windows.append(self.current)
                self.current = None
            elif not now and self._count == 0:
                self.current = Window(s.time)
        if self.current is not None and s.term is not None:
            self.current.terms.add(s.term)


def healthy_stretches(
    window: Window, segs: Sequence[Segment], starts: Sequence[int] | None = None
) -> list[tuple[int, int, set[str]]]:
    """Contiguous parts of ``window`` with a healthy majority, and the nodes forming it.

    ``starts`` (the segments' start times) may be passed in to avoid rebuilding it for
    every window of a long run.
    """
    out: list[tuple[int, int, set[str]]] = []
    if starts is None:
        starts = [s.start for s in segs]
    begin = max(window.start, window.counted_from)
    i = max(0, bisect.bisect_right(starts, begin) - 1)
    for seg in segs[i:]:
        if seg.start >= window.end:
            break
        start, end = max(seg.start, begin), min(seg.end, window.end)
        if end <= start or not seg.healthy:
            continue
        if out and out[-1][1] == start:
            # Only nodes in a healthy majority for the whole stretch: one a fault took
            # down part-way through was not "up and connected" (issue 26).
            out[-1] = (out[-1][0], end, out[-1][2] & seg.members)
        else:
            out.append((start, end, set(seg.members)))
    return out


class StalledElectionChecker:
    """Leaderless windows past the deadline while a majority was up and connected."""

    name = "stalled-election"
    description = (
        "no leader for longer than the election deadline while a majority was up and "
        "connected; time from each heal to a stable leader"
    )

    def check(self, run: RunData) -> CheckResult:
        """Return the verdict, one anomaly per overrun, and the leaderless/failover figures."""
        tl = load_timeline(run)
        horizon = min(tl.end, tl.last)
        conn = Connectivity(tl.nodes)
        segs = (
            segments(conn, until_answered(tl), tl.first, max(horizon, tl.first), tl.end)
            if tl.samples
            else []
        )
        windows = leaderless_windows(tl.samples, horizon)
        up_at = cluster_up_at(tl.samples, tl.nodes)
        for w in windows:
            if w.initial:
                w.counted_from = w.end if up_at is None else up_at
        starts = [seg.start for seg in segs]
        stretches = {id(w): healthy_stretches(w, segs, starts) for w in windows}
        anomalies = [a for w in windows for a in overruns(tl, w, stretches[id(w)])]
        events = failovers(tl, conn, horizon)
        first = next((w for w in windows if w.initial and not w.open), None)
        later = [ms(w.end - w.start) for w in windows if not w.initial]
        longest = max((e - s for w in windows for s, e, _ in stretches[id(w)]), default=0)
        metrics: dict[str, Any] = {
            "election_deadline_s": tl.deadline_s,
            "nodes": tl.nodes,
            "first_leader_ms": ms(first.end - first.start) if first else None,
            "cluster_up_ms": None if up_at is None else ms(up_at - tl.first),
            "leaderless_ms": percentiles(later),
            "max_healthy_leaderless_ms": ms(longest),
            "failover_ms": percentiles(
                [e["failover_ms"] for e in events if e["failover_ms"] is not None]
            ),
            "failover_unresolved": sum(1 for e in events if e["failover_ms"] is None),
            "failovers": events[:MAX_LISTED],
            "sampling_interval_ms": sampling_intervals(tl.samples),
        }
        if not tl.samples:
            metrics["note"] = "no observations: nothing could be checked"
            return CheckResult(valid="unknown", anomalies=anomalies, metrics=metrics)
        if up_at is None:
            metrics["note"] = "a majority of nodes never answered: no election could be judged"
            return CheckResult(valid="unknown", anomalies=anomalies, metrics=metrics)
        return CheckResult(
            valid=verdict(anomalies, run.incomplete), anomalies=anomalies, metrics=metrics
        )


def overruns(
    tl: Timeline, window: Window, stretches: Sequence[tuple[int, int, set[str]]]
) -> list[dict[str, Any]]:
    """A ``stalled-election`` anomaly per healthy stretch of ``window`` past the deadline."""
    out: list[dict[str, Any]] = []
    for start, end, members in stretches:
        if end - start <= tl.deadline_ns:
            continue
        context = fault_context(tl.faults, start, end, tl.end, tl.deadline_ns)
        majority = _majority_text(members, len(tl.nodes))
        which = (
            " at start-up (counted from when a majority first answered)" if window.initial else ""
        )
        still = (
            "; still leaderless when observation ended" if window.open and end == window.end else ""
        )
        out.append(
            {
                "kind": "stalled-election",
                "nodes": sorted(members),
                "terms": sorted(window.terms),
                "start": start,
                "end": end,
                "duration_ms": ms(end - start),
                "window_start": window.start,
                "window_end": window.end,
                "leaderless_ms": ms(window.end - window.start),
                "initial": window.initial,
                "open": window.open,
                **context.fields(),
                "message": (
                    f"no leader for {human(end - start)}{which} while a majority {majority} "
                    f"(deadline {tl.deadline_s:g} s) "
                    f"{context.text()}{still}"
                ),
            }
        )
    return out


def _majority_text(members: set[str], n: int) -> str:
    """``(n1, n2, n3) was up and connected``; when the majority changed during the
    stretch (a node went down, another came back), only the nodes in it throughout."""
    names = ", ".join(sorted(members))
    if len(members) > n // 2:
        return f"({names}) was up and connected"
    throughout = f"; throughout: {names}" if members else ""
    return f"was up and connected (its members changed{throughout})"
