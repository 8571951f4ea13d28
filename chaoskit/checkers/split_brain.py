"""The ``split-brain`` checker: two nodes claiming leadership at the same time.

Rules (docs/architecture.md, "What the leader checks mean"; claims as in ``_timeline``):

- Two claims by different nodes that overlap in controller time are a split brain. A
  claim covers only time its node answered: while a node cannot be asked (paused,
  killed, not answering) it is not counted as leading. When it leads the same term on
  both sides of such a gap, the time the gap overlaps another node's claim is reported
  apart as ``unobserved_ms`` (an episode made of such time alone is no anomaly: it is
  listed in ``metrics["unobserved_overlaps"]``).
  Same term: a violation of election safety, always an anomaly (``same_term: true``).
  Different terms: a stale leader that has not stepped down yet; an anomaly under the
  ``strict`` policy (``same_term: false``), only listed in ``metrics`` as
  ``stale_leader_overlaps`` under ``per-term``. A claim without a term cannot be told
  apart from a same-term claim, so an overlap involving one is always an anomaly
  (``same_term: null``).
- A stale leader (lower term, claiming after another node started a higher term) that
  keeps claiming longer than ``election_deadline`` seconds while it is up and inside a
  majority that is up and connected (``_timeline.Connectivity``) is a ``stale-leader``
  anomaly under both policies. The clock starts when the faults cutting it off heal (it
  resumes, its links come back), or when it was superseded if it was never cut off; it
  stops while it is cut off again. Inside a connected majority it shares a node with the
  majority that elected the newer leader, so it can hear of the newer term.
- Under the ``per-term`` policy, where a term is a consensus term (at most one leader
  each, Raft's election safety), two different nodes leading the same term at
  different times are an ``election-safety`` anomaly. Under ``strict`` a term is only a
  label (Bully's epoch is a local counter: a node that starts late and wins reuses the
  epoch an earlier winner had), so only claims at the same time count.
- Under the ``per-term`` policy (Raft-style targets, which must persist their term and
  vote), a node whose reported term goes *down* has forgotten the term it voted in, so
  it can vote twice in one term: a ``term-regression`` anomaly, one per drop. The
  observer polls each node in sequence, so its answers of one node are in order; a
  correct node never reports a lower term, not even after a restart.

Overlapping pairs close in time (gaps under ``MERGE_GAP_NS``) merge into one anomaly,
so one long episode with a flapping node is one anomaly, not hundreds. ``duration_ms``
is the total time two or more nodes claimed at once within the window.

An overlap can only be seen if it spans a sample: ``metrics["sampling_interval_ms"]``
states the run's precision. Without terms the converse limit holds too: a node that lost
and regained leadership between two of its samples looks as if it led throughout, so a
leadership change back and forth faster than the sampling interval can show as an
overlap. Terms remove that ambiguity (each leadership is its own claim).

A run without anomalies that is ``incomplete`` is ``"unknown"``, not valid: the lost
tail could hold one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chaoskit.checkers._faults import (
    Connectivity,
    cut_off_intervals,
    fault_context,
    free_stretches,
    segments,
)
from chaoskit.checkers._per_term import election_safety, term_regressions
from chaoskit.checkers._timeline import (
    MAX_LISTED,
    Claim,
    ClaimBuilder,
    Hidden,
    Timeline,
    latencies,
    load_timeline,
    sampling_intervals,
    verdict,
)
from chaoskit.checkers.figures import NS_PER_S, human, ms
from chaoskit.core.checker import CheckResult, RunData

#: Overlaps separated by less than this are one episode, reported as one anomaly.
MERGE_GAP_NS = 1 * NS_PER_S


@dataclass(slots=True)
class Overlap:
    """Two claims by different nodes whose spans intersect over ``[start, end]``."""

    a: Claim
    b: Claim
    start: int
    end: int

    @property
    def observed(self) -> bool:
        """Whether both nodes answered throughout (else: one could not be asked)."""
        return self.a.observed and self.b.observed

    @property
    def same_term(self) -> bool | None:
        if self.a.term is None or self.b.term is None:
            return None
        return self.a.term == self.b.term

    @property
    def stale(self) -> Claim:
        """The claim of the lower term (only meaningful when the terms differ)."""
        assert self.a.term is not None and self.b.term is not None
        return self.a if self.a.term < self.b.term else self.b

    @property
    def newer(self) -> Claim:
        return self.b if self.stale is self.a else self.a


def find_overlaps(claims: Sequence[Claim]) -> list[Overlap]:
    """Every overlapping pair, by a sweep over claims sorted by start.

    Only claims still open at a claim's start are compared with it, so the cost is the
    number of claims times the few claims open at once, never pairs of observations.
    """
    active: list[Claim] = []
    out: list[Overlap] = []
    for claim in claims:
        active = [a for a in active if a.end >= claim.start]
        for other in active:
            found = overlap(other, claim)
            if found is not None:
                out.append(found)
        active.append(claim)
    return out


def overlap(first: Claim, second: Claim) -> Overlap | None:
    """The overlap of two claims by different nodes (``first`` started no later), if any:
    the one rule the offline sweep and the live check share."""
    start, end = max(first.start, second.start), min(first.end, second.end)
    if first.node == second.node or start > end:
        return None
    return Overlap(first, second, start, end)


def reported(o: Overlap, policy: str) -> bool:
    """Whether an overlap is an anomaly: same term or no term always, a stale leader
    overlapping its successor only under ``strict``."""
    return o.same_term is not False or policy == "strict"


def pair_key(o: Overlap) -> frozenset[tuple[str, int | None]]:
    """The two (node, term) of an overlap, in either order."""
    return frozenset({(o.a.node, o.a.term), (o.b.node, o.b.term)})


class SplitBrainChecker:
    """Overlapping leadership claims, stale leaders, two leaders in one term."""

    name = "split-brain"
    description = (
        "overlapping leadership claims: same-term always an anomaly, cross-term under the "
        "strict policy; stale leaders past the deadline after a heal under both"
    )

    def check(self, run: RunData) -> CheckResult:
        """Return the verdict, one anomaly per episode, and the run's precision."""
        tl = load_timeline(run)
        builder = claims_of(tl)
        claims = builder.claims()
        spans = sorted([*claims, *builder.unobserved], key=lambda c: (c.start, c.node))
        every = find_overlaps(spans)
        overlaps = [o for o in every if o.observed]
        unobserved = [o for o in every if not o.observed]
        anomalies: list[dict[str, Any]] = []
        for same_term in (True, None, False):
            chosen = [o for o in every if o.same_term is same_term and reported(o, tl.policy)]
            anomalies += [episode(tl, g) for g in merge(chosen) if any(o.observed for o in g)]
        anomalies += stale_leaders(tl, claims)
        if tl.policy == "per-term":
            anomalies += election_safety(tl, claims, {pair_key(o) for o in overlaps})
            anomalies += term_regressions(tl)
        anomalies.sort(key=lambda a: (a["start"], a["kind"]))
        cross = [o for o in overlaps if o.same_term is False]
        metrics: dict[str, Any] = {
            "policy": tl.policy,
            "election_deadline_s": tl.deadline_s,
            "observations": len(tl.samples),
            "claims": len(claims),
            "leaders": sorted({c.node for c in claims}),
            "overlaps": len(overlaps),
            "max_overlap_ms": max((ms(o.end - o.start) for o in overlaps), default=0.0),
            "unobserved_claims": len(builder.unobserved),
            "unobserved_claim_ms": ms(sum(c.end - c.start for c in builder.unobserved)),
            "unobserved_overlap_ms": ms(_union_length([(o.start, o.end) for o in unobserved])),
            "unobserved_overlaps": [_pair(tl, o) for o in unobserved[:MAX_LISTED]],
            "unobserved_overlaps_total": len(unobserved),
            "stale_leader_overlaps": [_pair(tl, o) for o in cross[:MAX_LISTED]],
            "stale_leader_overlaps_total": len(cross),
            "sampling_interval_ms": sampling_intervals(tl.samples),
            "observation_latency_ms": latencies(tl.samples),
        }
        if not tl.samples:
            metrics["note"] = "no observations: nothing could be checked"
            return CheckResult(valid="unknown", anomalies=anomalies, metrics=metrics)
        return CheckResult(
            valid=verdict(anomalies, run.incomplete), anomalies=anomalies, metrics=metrics
        )


def claims_of(tl: Timeline) -> ClaimBuilder:
    """The claims of a run (and its unobserved spans), by ``_timeline``'s rules."""
    builder = ClaimBuilder(Hidden.of(tl.faults))
    for s in tl.samples:
        builder.add(s)
    return builder


def merge(overlaps: Sequence[Overlap], gap: int = MERGE_GAP_NS) -> list[list[Overlap]]:
    """Group overlaps into episodes: each starts within ``gap`` of the previous one's end."""
    groups: list[list[Overlap]] = []
    end = 0
    for o in sorted(overlaps, key=lambda o: o.start):
        if groups and o.start <= end + gap:
            groups[-1].append(o)
            end = max(end, o.end)
        else:
            groups.append([o])
            end = o.end
    return groups


def _union_length(intervals: Sequence[tuple[int, int]]) -> int:
    total, cursor = 0, None
    for start, end in sorted(intervals):
        if cursor is None or start > cursor:
            total += end - start
            cursor = end
        elif end > cursor:
            total += end - cursor
            cursor = end
    return total


def episode(tl: Timeline, group: Sequence[Overlap], *, live: bool = False) -> dict[str, Any]:
    """One ``split-brain`` anomaly for a merged group of overlapping pairs.

    Its window, length and faults are those of the observed overlaps; the time the
    group's unobserved overlaps add is ``unobserved_ms``, with the nodes not asked.
    ``live``: as the live check reports it, the moment the overlap shows, before it
    has a length.
    """
    seen = [o for o in group if o.observed]
    start = min(o.start for o in seen)
    end = max(o.end for o in seen)
    involved = {(c.node, c.term, c.start, c.observed): c for o in group for c in (o.a, o.b)}
    claims = sorted(involved.values(), key=lambda c: (c.start, c.node))
    nodes = sorted({c.node for c in claims})
    duration = _union_length([(o.start, o.end) for o in seen])
    unobserved = _union_length([(o.start, o.end) for o in group]) - duration
    hidden = sorted({c.node for c in claims if not c.observed})
    context = fault_context(tl.faults, start, end, tl.end, tl.deadline_ns)
    terms_of: dict[str, list[int | None]] = {}
    for c in claims:
        terms_of.setdefault(c.node, []).append(c.term)
    who = _join([_who(node, terms) for node, terms in terms_of.items()])
    verb = "both led" if len(nodes) == 2 else "led at once"
    if live:
        verb = "both lead" if len(nodes) == 2 else "lead at once"
    apart = (
        f" (and {human(unobserved)} more while {_join(hidden)} could not be asked)"
        if unobserved
        else ""
    )
    return {
        "kind": "split-brain",
        "same_term": group[0].same_term,
        "nodes": nodes,
        "terms": sorted({c.term for c in claims if c.term is not None}),
        "start": start,
        "end": end,
        "duration_ms": ms(duration),
        "unobserved_ms": ms(unobserved),
        "unobserved_nodes": hidden,
        "pairs": len(seen),
        "claims": [c.to_json() for c in claims[:MAX_LISTED]],
        **context.fields(),
        "message": f"{who} {verb}{'' if live else ' for ' + human(duration)}{apart} "
        f"{context.text()}",
    }


def _who(node: str, terms: Sequence[int | None]) -> str:
    known = sorted({t for t in terms if t is not None})
    if not known:
        return node
    return f"{node} (term{'s' if len(known) > 1 else ''} {', '.join(map(str, known))})"


def _join(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _pair(tl: Timeline, o: Overlap) -> dict[str, Any]:
    """An overlapping pair listed in the metrics (a stale leader's, or unobserved time).

    ``nodes`` and ``terms``: the lower term first when the terms differ.
    """
    first, second = (o.stale, o.newer) if o.same_term is False else (o.a, o.b)
    context = fault_context(tl.faults, o.start, o.end, tl.end, tl.deadline_ns)
    out = {
        "nodes": [first.node, second.node],
        "terms": [first.term, second.term],
        "start": o.start,
        "end": o.end,
        "duration_ms": ms(o.end - o.start),
        **context.fields(),
    }
    if not o.observed:
        out["unobserved_nodes"] = sorted({c.node for c in (o.a, o.b) if not c.observed})
    return out


def _superseders(claims: Sequence[Claim]) -> dict[int, Claim]:
    """For each termed claim (by ``id``), the earliest-starting higher-term claim of another node.

    Walks terms from the highest down, keeping the two earliest claims of distinct nodes
    seen so far: one of them is always by a node other than the claim's own.
    """
    termed = sorted((c for c in claims if c.term is not None), key=lambda c: -(c.term or 0))
    best: list[Claim] = []
    out: dict[int, Claim] = {}
    i = 0
    while i < len(termed):
        term = termed[i].term
        j = i
        while j < len(termed) and termed[j].term == term:
            j += 1
        for c in termed[i:j]:
            other = next((b for b in best if b.node != c.node), None)
            if other is not None:
                out[id(c)] = other
        pool: dict[str, Claim] = {}
        for c in sorted([*best, *termed[i:j]], key=lambda c: c.start):
            pool.setdefault(c.node, c)
        best = list(pool.values())[:2]
        i = j
    return out


def stale_leaders(tl: Timeline, claims: Sequence[Claim]) -> list[dict[str, Any]]:
    """``stale-leader`` anomalies: still claiming a superseded term past the deadline."""
    out: list[dict[str, Any]] = []
    superseded = _superseders(claims)
    if not superseded:
        return out
    segs = segments(Connectivity(tl.nodes), tl.faults, tl.first, max(tl.end, tl.last), tl.end)
    for claim in claims:
        newer = superseded.get(id(claim))
        if newer is None:
            continue
        since = max(claim.start, newer.start)
        if since >= claim.end:
            continue
        busy = cut_off_intervals(claim.node, segs)
        stretches = free_stretches(since, claim.end, busy)
        longest = max(stretches, key=lambda s: s[1] - s[0], default=None)
        if longest is None or longest[1] - longest[0] <= tl.deadline_ns:
            continue
        start, end = longest
        context = fault_context(tl.faults, since, claim.end, tl.end, tl.deadline_ns)
        after = (
            "it was back in a connected majority"
            if start > since
            else f"{newer.node} took term {newer.term}"
        )
        out.append(
            {
                "kind": "stale-leader",
                "nodes": [claim.node, newer.node],
                "terms": [claim.term, newer.term],
                "start": start,
                "end": end,
                "duration_ms": ms(end - start),
                "stale_since": since,
                "claim_end": claim.end,
                **context.fields(),
                "message": (
                    f"{claim.node} (term {claim.term}) still claimed leadership "
                    f"{human(end - start)} after {after} (deadline {tl.deadline_s:g} s; "
                    f"{newer.node} led term {newer.term}) {context.text()}"
                ),
            }
        )
    return out
