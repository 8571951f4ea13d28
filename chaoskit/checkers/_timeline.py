"""Shared timeline helpers for the leader checkers: samples, claims, the run's settings.

The leader checkers read the same three things out of a run, and they must read them
the same way, or one checker could call a moment "healed" that another calls
"partitioned". So the reading lives here, once:

- ``Sample``: one observation, sorted by controller time (a node's clock is never used).
- ``Claim``: a span of leadership (docs/architecture.md, "What the leader checks mean"):
  from the first to the last observation in which node n says it leads term t. With
  terms, a node that is paused and seen leading the same term again is still one
  claim. Without terms (``term`` null), each run of consecutive "leader" answers of a
  node is one claim.
- fault spans and connectivity: ``_faults.py``; percentiles and durations: ``figures.py``.

Everything is a linear sweep or a sort; a 10-minute run sampled every 25 ms on 9 nodes
(~200k observations) is read in well under a second.
"""

from __future__ import annotations

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
    """A span during which ``node`` was seen leading ``term`` (None: a term-less target)."""

    node: str
    term: int | None
    start: int
    end: int
    samples: int = 1

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "term": self.term, "start": self.start, "end": self.end}


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
    out = [sample_of(rec) for rec in observations]
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


def find_claims(samples: Iterable[Sample]) -> list[Claim]:
    """Every leadership claim, sorted by start (see the module docstring for the rules)."""
    builder = ClaimBuilder()
    for s in samples:
        builder.add(s)
    return builder.claims()


class ClaimBuilder:
    """Claims built one sample at a time, in time order: ``find_claims`` feeds it a
    whole run, the live checks (``checkers/live``) each sample as it is written, so
    both read leadership by the same rules."""

    def __init__(self) -> None:
        self._by_term: dict[tuple[str, int], Claim] = {}
        self._open_run: dict[str, Claim] = {}
        #: Every claim in the order it was opened (by start, as samples come in order).
        self.opened: list[Claim] = []

    def add(self, s: Sample) -> Claim | None:
        """Take one sample; return the claim it opened or extended (None: no claim)."""
        leads = s.role == "leader"
        claim: Claim | None = None
        if leads and s.term is not None:
            claim = self._by_term.get((s.node, s.term))
            if claim is None:
                claim = self._by_term[(s.node, s.term)] = Claim(s.node, s.term, s.time, s.time)
                self.opened.append(claim)
            else:
                claim.end = s.time
                claim.samples += 1
        current = self._open_run.get(s.node)
        if leads and s.term is None:
            if current is None:
                self._open_run[s.node] = current = Claim(s.node, None, s.time, s.time)
                self.opened.append(current)
            else:
                current.end = s.time
                current.samples += 1
            claim = current
        elif current is not None:
            del self._open_run[s.node]
        return claim

    def claims(self) -> list[Claim]:
        """Every claim so far, sorted by start (then node)."""
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
