"""Shared timeline helpers for the leader checkers: samples, claims, the run's settings.

The leader checkers read the same three things out of a run, and they must read them
the same way, or one checker could call a moment "healed" that another calls
"partitioned". So the reading lives here, once:

- ``Sample``: one observation, sorted by controller time (a node's clock is never used).
- ``Claim``: a span of leadership (docs/architecture.md, "What the leader checks mean"):
  a run of consecutive answers of node n saying it leads term t (``term`` null for a
  target without terms: the same rule), from the first to the last. Any other answer
  ends it, and so does time in which n could not be asked (an answer ``down``, or a
  fault of the log that took n down: paused, killed): a frozen leader acts on nothing,
  and counting it as leading made a 0.12 s overlap of Patroni's look like 12 s. When n
  leads the same term on both sides of such a gap, the gap is an *unobserved* span
  (``Claim`` with ``observed`` false): reported apart, never counted as leading.
  ``ClaimBuilder`` applies the rule one sample at a time.
- fault spans and connectivity: ``_faults.py``; percentiles and durations: ``figures.py``.

Everything is a linear sweep or a sort; a 10-minute run sampled every 25 ms on 9 nodes
(~200k observations) is read in well under a second.
"""

from __future__ import annotations

import bisect
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from chaoskit.checkers._faults import FaultSpan, read_faults, record_time
from chaoskit.checkers.figures import NS_PER_MS, NS_PER_S, percentiles
from chaoskit.core.checker import RunData, Verdict
from chaoskit.core.records import Record
from chaoskit.errors import ConfigError, HistoryFormatError

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
    """A span during which ``node`` was seen leading ``term`` (None: a term-less target).

    ``observed`` false: a span in which ``node`` could not be asked, between two claims
    of the same term (it may have led throughout, frozen, or not at all).
    """

    node: str
    term: int | None
    start: int
    end: int
    samples: int = 1
    observed: bool = True

    def to_json(self) -> dict[str, Any]:
        out = {"node": self.node, "term": self.term, "start": self.start, "end": self.end}
        if not self.observed:
            out["observed"] = False
        return out


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
    record_end = max([last, *(record_time(r, "nemesis") for r in run.nemesis)])
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


def samples_of(observations: Iterable[Record]) -> list[Sample]:
    """Observations as ``Sample`` tuples sorted by controller time (stable for ties)."""
    out = list(map(sample_of, observations))
    out.sort(key=_by_time)
    return out


def sample_of(rec: Record) -> Sample:
    """One observation as a ``Sample`` (the live checks read them one at a time).

    The hot loop of every leader check (200k records for a long run): fields already of
    the right type are taken as they are, and only odd ones go through conversion.
    """
    t = rec.get("time")
    node = rec.get("node")
    term = rec.get("term")
    latency = rec.get("latency") or 0
    if type(t) is not int:
        t = record_time(rec, "observation")
    if type(node) is not str:
        if node is None:
            raise HistoryFormatError(f"an observation names no node: {rec!r}")
        node = str(node)
    if term is not None and type(term) is not int:
        term = int(term)
    if type(latency) is not int:
        latency = int(latency)
    return Sample(t, node, rec.get("role") or "down", term, rec.get("leader"), latency)


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


def find_claims(samples: Iterable[Sample], faults: Sequence[FaultSpan] = ()) -> list[Claim]:
    """Every leadership claim, sorted by start (see the module docstring for the rules).

    ``faults``: the run's faults, whose ``down`` nodes cannot be asked while they last.
    """
    builder = ClaimBuilder(Hidden.of(faults))
    for s in samples:
        builder.add(s)
    return builder.claims()


#: The end of a fault not stopped (yet): it hides its nodes to the end of time.
NO_END = sys.maxsize


class Hidden:
    """When each node could not be asked, from the fault log: the spans of the faults
    that took it down (``FaultSpan.down``: paused, killed), ``[start, stop)``.

    The observer asks every node directly, not through the fault network, so a
    partition hides nothing from it; a node's own ``down`` answers are read from the
    samples. A live check adds faults as they start (their ``stop`` set later);
    ``Hidden.of`` a whole log merges each node's spans once, for a binary search.
    """

    def __init__(self) -> None:
        self._faults: dict[str, list[FaultSpan]] = {}
        #: Per node, merged ``(start, stop)`` spans and their starts (``of`` only).
        self._merged: dict[str, tuple[list[int], list[int]]] | None = None

    @classmethod
    def of(cls, faults: Iterable[FaultSpan]) -> Hidden:
        """The hidden spans of a complete fault log."""
        hidden = cls()
        for f in sorted(faults, key=lambda f: f.start):
            hidden.add(f)
        hidden._merged = {}
        for node, spans in hidden._faults.items():
            starts: list[int] = []
            stops: list[int] = []
            for f in spans:
                if stops and f.start <= stops[-1]:
                    stops[-1] = max(stops[-1], _stop(f))
                else:
                    starts.append(f.start)
                    stops.append(_stop(f))
            hidden._merged[node] = (starts, stops)
        return hidden

    def add(self, fault: FaultSpan) -> None:
        """Take a fault (in start order); its ``stop`` may be set later."""
        for node in fault.down:
            self._faults.setdefault(node, []).append(fault)
        self._merged = None

    def covers(self, node: str, t: int) -> bool:
        """Whether ``node`` was down (per the fault log) at instant ``t``."""
        return self.between(node, t - 1, t)

    def between(self, node: str, after: int, until: int) -> bool:
        """Whether ``node`` was down at some instant of ``(after, until]``."""
        if after >= until or node not in self._faults:
            return False
        if self._merged is not None:
            starts, stops = self._merged[node]
            i = bisect.bisect_right(starts, until) - 1  # the last span starting by then
            return i >= 0 and stops[i] > max(after + 1, starts[i])
        return any(
            _stop(f) > max(after + 1, f.start) for f in self._faults[node] if f.start <= until
        )


def _stop(f: FaultSpan) -> int:
    return f.stop if f.stop is not None else NO_END


class ClaimBuilder:
    """Claims built one sample at a time, in time order: ``find_claims`` feeds it a
    whole run; a live check can feed it each sample as it is written (and ``hidden``
    each fault as it starts), so both read leadership by the same rules.

    ``opened``: every observed claim in the order it was opened; ``unobserved``: the
    spans in which a node leading the same term on both sides could not be asked.
    """

    def __init__(self, hidden: Hidden | None = None) -> None:
        self.hidden = hidden if hidden is not None else Hidden()
        self.opened: list[Claim] = []
        self.unobserved: list[Claim] = []
        self._open: dict[str, Claim] = {}
        #: A node's claim cut by time it could not be asked, until its next answer.
        self._cut: dict[str, Claim] = {}
        self._last: dict[str, int] = {}

    def add(self, s: Sample) -> Claim | None:
        """Take one sample; return the claim it opened or extended (None: no claim)."""
        node = s.node
        before = self._last.get(node)
        self._last[node] = s.time
        if s.role == "down":
            self._interrupt(node)
            return None
        # One look at the fault log for most samples: was the node down since its
        # last answer? If so its claim ends there; and if it still is, this answer
        # was given before the fault began, at an instant nobody knows.
        since = before if before is not None else s.time - 1
        if self.hidden.between(node, since, s.time):
            self._interrupt(node)
            if self.hidden.covers(node, s.time):
                return None
        cut = self._cut.pop(node, None)
        if s.role != "leader":
            self._open.pop(node, None)
            return None
        current = self._open.get(node)
        if current is not None and current.term == s.term:
            current.end = s.time
            current.samples += 1
            return current
        claim = self._open[node] = Claim(node, s.term, s.time, s.time)
        self.opened.append(claim)
        if cut is not None and cut.term == s.term:
            self.unobserved.append(Claim(node, s.term, cut.end, s.time, 0, observed=False))
        return claim

    def _interrupt(self, node: str) -> None:
        """``node`` cannot be asked: its claim ends at its last answer."""
        current = self._open.pop(node, None)
        if current is not None:
            self._cut[node] = current

    def claims(self) -> list[Claim]:
        """Every observed claim so far, sorted by start (then node)."""
        return sorted(self.opened, key=lambda c: (c.start, c.node))


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


def verdict(anomalies: Sequence[Any], incomplete: bool) -> Verdict:
    """False with anomalies; "unknown" for a clean but incomplete run; else True.

    An interrupted run may have lost the very records that would show an anomaly, so
    finding none there proves nothing.
    """
    if anomalies:
        return False
    return "unknown" if incomplete else True
