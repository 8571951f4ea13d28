"""Faults as the leader checkers read them: spans from the fault log, and whether a
majority of the nodes is up and connected at each moment.

- ``FaultSpan``: a fault from ``nemesis.jsonl`` (start/stop paired by ``id``); a start
  without a stop stays active to the end of the run.
- ``Connectivity``: is a majority of the nodes up and connected to each other, given the
  ``down`` nodes and ``cut`` directed links of the active faults?
- ``fault_context``: what an anomaly's window is told by: the faults active in it, and
  those healed shortly before it began (a service settles for a while after a heal, so
  "no fault active" right after one hides the likely cause).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaoskit.checkers.figures import human, ms
from chaoskit.core.records import Record
from chaoskit.errors import HistoryFormatError


def record_time(record: Record, stream: str) -> int:
    """A record's controller time (ns); a ``HistoryFormatError`` when it has none."""
    try:
        return int(record["time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise HistoryFormatError(f"a {stream} record has no valid time: {record!r}") from exc


@dataclass(slots=True)
class FaultSpan:
    """One fault from the nemesis log, with what checkers need: who is down, what is cut."""

    id: Any
    fault: str
    start: int
    stop: int | None
    down: frozenset[str] = frozenset()
    cut: frozenset[tuple[str, str]] = frozenset()

    @property
    def label(self) -> str:
        """``partition#2``: the name a reader finds again in the nemesis log."""
        return self.fault if self.id is None else f"{self.fault}#{self.id}"

    def end(self, run_end: int) -> int:
        """When the fault stopped; a fault never stopped lasts to the end of the run."""
        return self.stop if self.stop is not None else max(run_end, self.start)

    def touches(self, node: str) -> bool:
        """Whether this fault took ``node`` down or cut any of its links."""
        return node in self.down or any(node in link for link in self.cut)


def read_faults(nemesis: Iterable[Record]) -> list[FaultSpan]:
    """Pair fault starts and stops (by ``id``, else by fault name, first in first out).

    A start without a stop has ``stop`` None: ``FaultSpan.end`` makes it last to the end.
    """
    pairing = FaultPairing()
    for rec in sorted(nemesis, key=lambda r: record_time(r, "nemesis")):
        pairing.add(rec)
    return pairing.spans


class FaultPairing:
    """``read_faults`` one record at a time, in time order (offline and live)."""

    def __init__(self) -> None:
        self.spans: list[FaultSpan] = []
        self._by_id: dict[Any, FaultSpan] = {}
        self._by_name: dict[str, list[FaultSpan]] = {}

    def add(self, rec: Record) -> FaultSpan | None:
        """Take one record; return the span it started or stopped (None: neither)."""
        kind = rec.get("type")
        name = str(rec.get("fault") or "fault")
        fid = rec.get("id")
        if kind == "start":
            span = FaultSpan(
                id=fid,
                fault=name,
                start=record_time(rec, "nemesis"),
                stop=None,
                down=frozenset(str(n) for n in rec.get("down") or ()),
                cut=frozenset(_link(link) for link in rec.get("cut") or ()),
            )
            self.spans.append(span)
            if fid is not None:
                self._by_id[fid] = span
            else:
                self._by_name.setdefault(name, []).append(span)
            return span
        if kind != "stop":
            return None
        if fid is not None:
            stopped = self._by_id.pop(fid, None)
        else:
            queue = self._by_name.get(name) or []
            stopped = queue.pop(0) if queue else None
        if stopped is not None:
            stopped.stop = record_time(rec, "nemesis")
        return stopped


def _link(link: Any) -> tuple[str, str]:
    try:
        src, dst = link
    except (TypeError, ValueError) as exc:
        raise HistoryFormatError(f"a cut link is not [src, dst]: {link!r}") from exc
    return (str(src), str(dst))


def faults_during(
    faults: Iterable[FaultSpan], start: int, end: int, run_end: int
) -> list[FaultSpan]:
    """Faults active at any instant of ``[start, end]``, bounds included.

    Inclusive on purpose: a window that opens the instant a fault heals names that
    fault, which is what a reader wants to know ("after partition#2 healed").
    """
    return [f for f in faults if f.start <= end and f.end(run_end) >= start]


def fault_fields(faults: Sequence[FaultSpan]) -> dict[str, Any]:
    """The ``faults`` (labels) and ``fault_ids`` fields of an anomaly."""
    return {"faults": [f.label for f in faults], "fault_ids": [f.id for f in faults]}


def describe_faults(faults: Sequence[FaultSpan]) -> str:
    """``during partition#2 and kill#3`` or ``with no fault active``."""
    if not faults:
        return "with no fault active"
    labels = [f.label for f in faults]
    return "during " + (
        labels[0] if len(labels) == 1 else ", ".join(labels[:-1]) + " and " + labels[-1]
    )


@dataclass(frozen=True, slots=True)
class FaultContext:
    """The faults an anomaly is told by: ``active`` in its window, ``healed`` shortly
    before it began and ``next`` beginning shortly after it ended (with how long
    before or after, in ns), nearest first."""

    active: list[FaultSpan]
    healed: list[tuple[FaultSpan, int]]
    next: list[tuple[FaultSpan, int]] = field(default_factory=list)

    def fields(self) -> dict[str, Any]:
        """``faults`` and ``fault_ids`` (active), ``after_faults`` (recently healed) and,
        when asked for, ``before_faults`` (beginning right after)."""
        out = {
            **fault_fields(self.active),
            "after_faults": [
                {"fault": f.label, "id": f.id, "healed_before_ms": ms(before)}
                for f, before in self.healed
            ],
        }
        if self.next:
            out["before_faults"] = [
                {"fault": f.label, "id": f.id, "began_after_ms": ms(later)}
                for f, later in self.next
            ]
        return out

    def text(self) -> str:
        """``during partition#2``, ``after kill-leader#1, healed 212 ms before``,
        ``8.2 ms before kill-leader#1 began``, those joined, or ``with no fault active``."""
        parts = [describe_faults(self.active)] if self.active else []
        if self.healed:
            names = _and([f.label for f, _ in self.healed])
            times = _and([human(before) for _, before in self.healed])
            parts.append(f"after {names}, healed {times} before")
        if self.next:
            names = _and([f.label for f, _ in self.next])
            times = _and([human(later) for _, later in self.next])
            parts.append(f"{times} before {names} began")
        return ", ".join(parts) or describe_faults(())


def fault_context(
    faults: Sequence[FaultSpan],
    start: int,
    end: int,
    run_end: int,
    window: int,
    *,
    lead: int = 0,
) -> FaultContext:
    """The faults active in ``[start, end]``, those healed within ``window`` ns before
    ``start`` (and after every active one began), and those beginning within ``lead``
    ns after ``end``.

    ``window`` is the run's election deadline: the time a service may take to settle
    after a heal, so an anomaly starting that soon after one is its likely aftermath.
    ``lead`` is for anomalies whose cause may come after them: a write acknowledged
    just before its leader was killed is lost by the kill.
    """
    active = faults_during(faults, start, end, run_end)
    ids = {id(f) for f in active}
    # A heal older than the start of a fault still active is old news: that fault
    # changed the cluster since, and the anomaly is told by it.
    since = max((f.start for f in active), default=start - window)
    healed = [
        (f, start - f.stop)
        for f in faults
        if f.stop is not None and max(since, start - window) <= f.stop <= start and id(f) not in ids
    ]
    healed.sort(key=lambda pair: pair[1])
    upcoming = [(f, f.start - end) for f in faults if end < f.start <= end + lead]
    upcoming.sort(key=lambda pair: pair[1])
    return FaultContext(active, healed, upcoming)


def _and(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def free_stretches(start: int, end: int, busy: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``[start, end]`` not covered by the sorted, merged ``busy`` intervals."""
    out: list[tuple[int, int]] = []
    cursor = start
    for b0, b1 in busy:
        if b1 < cursor:
            continue
        if b0 > end:
            break
        if b0 > cursor:
            out.append((cursor, b0))
        cursor = max(cursor, b1)
    if cursor < end:
        out.append((cursor, end))
    return out


# -- connectivity -----------------------------------------------------------------------


class Connectivity:
    """Which nodes belong to a majority that is up and fully connected.

    A healthy majority is a set of more than half of the nodes, all up, with no cut link
    in either direction between any two of them: a clique in the graph of up nodes joined
    when both directions are open. Clusters are small (at most 15 nodes), so a bitmask
    search with pruning answers instantly; answers are cached per fault state.
    """

    def __init__(self, nodes: Sequence[str]) -> None:
        self.nodes = list(nodes)
        self._index = {n: i for i, n in enumerate(self.nodes)}
        self.need = len(self.nodes) // 2 + 1
        self._cache: dict[tuple[frozenset[str], frozenset[tuple[str, str]]], frozenset[str]] = {}

    def members(self, down: frozenset[str], cut: frozenset[tuple[str, str]]) -> frozenset[str]:
        """Nodes in some healthy majority; empty when no majority is up and connected."""
        key = (down, cut)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._members(down, cut)
        return found

    def members_at(self, faults: Iterable[FaultSpan], t: int, run_end: int) -> frozenset[str]:
        """``members`` for the faults active at instant ``t`` (started, not yet stopped)."""
        down: set[str] = set()
        cut: set[tuple[str, str]] = set()
        for f in faults:
            if f.start <= t < f.end(run_end):
                down |= f.down
                cut |= f.cut
        return self.members(frozenset(down), frozenset(cut))

    def _members(self, down: frozenset[str], cut: frozenset[tuple[str, str]]) -> frozenset[str]:
        n = len(self.nodes)
        up = 0
        for i, node in enumerate(self.nodes):
            if node not in down:
                up |= 1 << i
        adj = [0] * n
        for i in range(n):
            if not up >> i & 1:
                continue
            for j in range(n):
                if i != j and up >> j & 1:
                    a, b = self.nodes[i], self.nodes[j]
                    if (a, b) not in cut and (b, a) not in cut:
                        adj[i] |= 1 << j
        return frozenset(
            self.nodes[i]
            for i in range(n)
            if up >> i & 1 and _has_clique(adj, adj[i], self.need - 1)
        )


def _has_clique(adj: Sequence[int], candidates: int, size: int) -> bool:
    """Whether ``candidates`` (a bitmask) holds ``size`` nodes all joined to each other."""
    if size <= 0:
        return True
    while candidates:
        if candidates.bit_count() < size:
            return False
        low = candidates & -candidates
        i = low.bit_length() - 1
        candidates &= ~low
        if _has_clique(adj, candidates & adj[i], size - 1):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of controller time with one fault state; ``members`` as in Connectivity."""

    start: int
    end: int
    members: frozenset[str]

    @property
    def healthy(self) -> bool:
        return bool(self.members)


def segments(
    conn: Connectivity, faults: Sequence[FaultSpan], start: int, end: int, run_end: int
) -> list[Segment]:
    """Cut ``[start, end]`` at every fault start and stop; the state of each piece."""
    cuts = {start, end}
    for f in faults:
        for t in (f.start, f.end(run_end)):
            if start < t < end:
                cuts.add(t)
    bounds = sorted(cuts)
    if len(bounds) == 1:
        return [Segment(start, end, conn.members_at(faults, start, run_end))]
    return [
        Segment(a, b, conn.members_at(faults, a, run_end)) for a, b in itertools.pairwise(bounds)
    ]


def cut_off_intervals(node: str, segs: Sequence[Segment]) -> list[tuple[int, int]]:
    """Merged stretches during which ``node`` was in no healthy majority.

    A node inside a majority that is up and connected can hear of a newer term: any
    other majority that elected a newer leader shares a node with it. Outside one, it
    may not, so a stale leader's clock only runs while it is inside.
    """
    out: list[tuple[int, int]] = []
    for seg in segs:
        if node in seg.members:
            continue
        if out and out[-1][1] == seg.start:
            out[-1] = (out[-1][0], seg.end)
        else:
            out.append((seg.start, seg.end))
    return out
