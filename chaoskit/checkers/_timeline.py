"""Shared timeline helpers for the leader checkers: claims, fault windows, connectivity.

The leader checkers read the same three things out of a run, and they must read them
the same way, or one checker could call a moment "healed" that another calls
"partitioned". So the reading lives here, once:

- ``Sample``: one observation, sorted by controller time (a node's clock is never used).
- ``Claim``: a span of leadership (docs/architecture.md, "What the leader checks mean"):
  from the first to the last observation in which node n says it leads term t. With
  terms, a node that is paused and seen leading the same term again is still one
  claim. Without terms (``term`` null), each run of consecutive "leader" answers of a
  node is one claim.
- ``FaultSpan``: a fault from ``nemesis.jsonl`` (start/stop paired by ``id``); a start
  without a stop stays active to the end of the run.
- ``Connectivity``: is a majority of the nodes up and connected to each other, given the
  ``down`` nodes and ``cut`` directed links of the active faults?

Everything is a linear sweep or a sort; a 10-minute run sampled every 25 ms on 9 nodes
(~200k observations) is read in well under a second.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from chaoskit.core.checker import RunData, Verdict
from chaoskit.core.records import Record
from chaoskit.errors import ConfigError, HistoryFormatError

NS_PER_MS = 1_000_000
NS_PER_S = 1_000_000_000
#: Used only when neither the run's config nor the user gives a deadline.
DEFAULT_DEADLINE_S = 5.0
POLICIES = ("strict", "per-term")
#: Most list-valued metrics are capped so a pathological run cannot bloat results.json.
MAX_LISTED = 1000


class Sample(NamedTuple):
    """One observation: what ``node`` answered at controller time ``time`` (ns)."""

    time: int
    node: str
    role: str
    term: int | None
    leader: str | None
    latency: int


@dataclass(slots=True)
class Claim:
    """A span during which ``node`` was seen leading ``term`` (None: a term-less target)."""

    node: str
    term: int | None
    start: int
    end: int
    samples: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "term": self.term, "start": self.start, "end": self.end}


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


@dataclass
class Timeline:
    """The parts of a run both leader checkers read, parsed once."""

    samples: list[Sample]
    faults: list[FaultSpan]
    nodes: list[str]
    #: First and last observation (ns); 0 and 0 when there are none.
    first: int
    last: int
    #: End of the run for faults still active: ``config["end_time"]`` or the last record.
    end: int
    deadline_s: float
    policy: str
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def deadline_ns(self) -> int:
        return int(self.deadline_s * NS_PER_S)


def load_timeline(run: RunData) -> Timeline:
    """Parse a run's observations and fault log; a ``ChaoskitError`` for bad records."""
    samples = samples_of(run.observations)
    first = samples[0].time if samples else 0
    last = samples[-1].time if samples else 0
    record_end = max([last, *(_time(r, "nemesis") for r in run.nemesis)])
    end_time = run.config.get("end_time")
    end = int(end_time) if isinstance(end_time, int | float) else record_end
    faults = read_faults(run.nemesis)
    return Timeline(
        samples=samples,
        faults=faults,
        nodes=node_ids(run.config, samples, faults),
        first=first,
        last=last,
        end=end,
        deadline_s=deadline_s(run.config),
        policy=policy_of(run.config),
        config=run.config,
    )


def _time(record: Record, stream: str) -> int:
    try:
        return int(record["time"])
    except (KeyError, TypeError, ValueError) as exc:
        raise HistoryFormatError(f"a {stream} record has no valid time: {record!r}") from exc


def samples_of(observations: Iterable[Record]) -> list[Sample]:
    """Observations as ``Sample`` tuples sorted by controller time (stable for ties).

    The hot loop of every leader check (200k records for a long run): fields already of
    the right type are taken as they are, and only odd ones go through conversion.
    """
    out: list[Sample] = []
    append = out.append
    for rec in observations:
        t = rec.get("time")
        node = rec.get("node")
        term = rec.get("term")
        latency = rec.get("latency") or 0
        if type(t) is not int:
            t = _time(rec, "observation")
        if type(node) is not str:
            if node is None:
                raise HistoryFormatError(f"an observation names no node: {rec!r}")
            node = str(node)
        if term is not None and type(term) is not int:
            term = int(term)
        if type(latency) is not int:
            latency = int(latency)
        append(Sample(t, node, rec.get("role") or "down", term, rec.get("leader"), latency))
    out.sort(key=_by_time)
    return out


def _by_time(s: Sample) -> int:
    return s.time


def deadline_s(config: dict[str, Any]) -> float:
    """The election deadline in seconds: the run's (target default or user's), else 5 s."""
    value = config.get("election_deadline")
    if value is None:
        return DEFAULT_DEADLINE_S
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"election_deadline must be a positive number of seconds, not {value!r}")
    return float(value)


def policy_of(config: dict[str, Any]) -> str:
    """The split-brain policy; ``strict`` when the run does not say (the safe reading)."""
    policy = config.get("policy") or "strict"
    if policy not in POLICIES:
        raise ConfigError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    return str(policy)


def node_ids(
    config: dict[str, Any], samples: Sequence[Sample], faults: Sequence[FaultSpan]
) -> list[str]:
    """The cluster's node ids: ``config["nodes"]`` when it lists them.

    When it only gives a count, the ids seen in the streams are padded with ``n<i>``
    up to that count: the majority is of the whole cluster, including nodes that never
    answered.
    """
    nodes = config.get("nodes")
    if isinstance(nodes, list) and nodes:
        return [str(n) for n in nodes]
    seen = {s.node for s in samples}
    for f in faults:
        seen |= f.down
    ids = sorted(seen)
    count = nodes if isinstance(nodes, int) and not isinstance(nodes, bool) else len(ids)
    i = 1
    while len(ids) < count:
        if f"n{i}" not in seen:
            ids.append(f"n{i}")
        i += 1
    return ids


# -- claims -----------------------------------------------------------------------------


def find_claims(samples: Iterable[Sample]) -> list[Claim]:
    """Every leadership claim, sorted by start (see the module docstring for the rules)."""
    by_term: dict[tuple[str, int], Claim] = {}
    runs: list[Claim] = []
    open_run: dict[str, Claim] = {}
    for s in samples:
        leads = s.role == "leader"
        if leads and s.term is not None:
            claim = by_term.get((s.node, s.term))
            if claim is None:
                by_term[(s.node, s.term)] = Claim(s.node, s.term, s.time, s.time)
            else:
                claim.end = s.time
                claim.samples += 1
        current = open_run.get(s.node)
        if leads and s.term is None:
            if current is None:
                open_run[s.node] = current = Claim(s.node, None, s.time, s.time)
                runs.append(current)
            else:
                current.end = s.time
                current.samples += 1
        elif current is not None:
            del open_run[s.node]
    claims = [*by_term.values(), *runs]
    claims.sort(key=lambda c: (c.start, c.node))
    return claims


# -- faults -----------------------------------------------------------------------------


def read_faults(nemesis: Iterable[Record]) -> list[FaultSpan]:
    """Pair fault starts and stops (by ``id``, else by fault name, first in first out).

    A start without a stop has ``stop`` None: ``FaultSpan.end`` makes it last to the end.
    """
    spans: list[FaultSpan] = []
    open_by_id: dict[Any, FaultSpan] = {}
    open_by_name: dict[str, list[FaultSpan]] = {}
    records = sorted(nemesis, key=lambda r: _time(r, "nemesis"))
    for rec in records:
        kind = rec.get("type")
        name = str(rec.get("fault") or "fault")
        fid = rec.get("id")
        if kind == "start":
            span = FaultSpan(
                id=fid,
                fault=name,
                start=_time(rec, "nemesis"),
                stop=None,
                down=frozenset(str(n) for n in rec.get("down") or ()),
                cut=frozenset(_link(link) for link in rec.get("cut") or ()),
            )
            spans.append(span)
            if fid is not None:
                open_by_id[fid] = span
            else:
                open_by_name.setdefault(name, []).append(span)
        elif kind == "stop":
            if fid is not None:
                span_or_none = open_by_id.pop(fid, None)
            else:
                queue = open_by_name.get(name) or []
                span_or_none = queue.pop(0) if queue else None
            if span_or_none is not None:
                span_or_none.stop = _time(rec, "nemesis")
    return spans


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


# -- figures ----------------------------------------------------------------------------


def percentiles(values: Sequence[float]) -> dict[str, Any]:
    """``count``, ``p50``, ``p99`` and ``max`` (nearest rank), None when there are no values."""
    if not values:
        return {"count": 0, "p50": None, "p99": None, "max": None}
    ordered = sorted(values)

    def rank(p: float) -> float:
        return ordered[max(0, math.ceil(p * len(ordered)) - 1)]

    return {
        "count": len(ordered),
        "p50": round(rank(0.50), 3),
        "p99": round(rank(0.99), 3),
        "max": round(ordered[-1], 3),
    }


def sampling_intervals(samples: Iterable[Sample]) -> dict[str, Any]:
    """Time between consecutive observations of each node (ms): all nodes and per node.

    This is the run's precision: an overlap of two leaders shorter than the interval
    may fall between two samples and go unseen.
    """
    previous: dict[str, int] = {}
    gaps: dict[str, list[float]] = {}
    for s in samples:
        before = previous.get(s.node)
        if before is not None:
            gaps.setdefault(s.node, []).append((s.time - before) / NS_PER_MS)
        previous[s.node] = s.time
    out = percentiles([g for node_gaps in gaps.values() for g in node_gaps])
    out["per_node"] = {node: percentiles(g) for node, g in sorted(gaps.items())}
    return out


def latencies(samples: Iterable[Sample]) -> dict[str, Any]:
    """How long the status question took (ms): the uncertainty of each sample's instant."""
    return percentiles([s.latency / NS_PER_MS for s in samples if s.role != "down"])


def ms(ns: int | float) -> float:
    """Nanoseconds as milliseconds, rounded for reports."""
    return round(ns / NS_PER_MS, 3)


def human(ns: int | float) -> str:
    """``412 ms`` or ``2.40 s``: durations in anomaly messages."""
    if ns < NS_PER_S:
        value = ns / NS_PER_MS
        return f"{value:.0f} ms" if value >= 10 else f"{value:.2g} ms"
    return f"{ns / NS_PER_S:.2f} s"


def verdict(anomalies: Sequence[Any], incomplete: bool) -> Verdict:
    """False with anomalies; "unknown" for a clean but incomplete run; else True.

    An interrupted run may have lost the very records that would show an anomaly, so
    finding none there proves nothing.
    """
    if anomalies:
        return False
    return "unknown" if incomplete else True
