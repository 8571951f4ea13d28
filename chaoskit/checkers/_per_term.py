"""Rules of the ``per-term`` policy (split_brain.py): a term is a consensus term.

- ``election-safety``: two different nodes leading one term, even at different times.
- ``term-regression``: a node whose reported term goes down.

Each rule is written once, for a whole run (``election_safety``, ``term_regressions``)
and for one claim or sample at a time (``safety_anomaly``, ``TermWatch``), which the
live checks (``checkers/live``) use as the streams are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chaoskit.checkers._faults import describe_faults, fault_fields, faults_during
from chaoskit.checkers._timeline import Claim, Sample, Timeline


def election_safety(
    tl: Timeline, claims: Sequence[Claim], overlapping: set[frozenset[tuple[str, int | None]]]
) -> list[dict[str, Any]]:
    """Two nodes leading the same term at different times; pairs in ``overlapping``
    (``{(node, term), (node, term)}``) led at the same time: split brain, not this."""
    by_term: dict[int, list[Claim]] = {}
    for c in claims:
        if c.term is not None:
            by_term.setdefault(c.term, []).append(c)
    out: list[dict[str, Any]] = []
    for term, group in sorted(by_term.items()):
        for i, first in enumerate(group):
            for second in group[i + 1 :]:
                key = frozenset({(first.node, term), (second.node, term)})
                if first.node == second.node or key in overlapping:
                    continue
                out.append(safety_anomaly(tl, first, second))
    return out


def safety_anomaly(tl: Timeline, first: Claim, second: Claim) -> dict[str, Any]:
    """The ``election-safety`` anomaly of two nodes' claims of one term."""
    term = first.term
    start, end = min(first.start, second.start), max(first.end, second.end)
    faults = faults_during(tl.faults, start, end, tl.end)
    return {
        "kind": "election-safety",
        "same_term": True,
        "nodes": sorted({first.node, second.node}),
        "terms": [term],
        "start": start,
        "end": end,
        "duration_ms": 0.0,
        "claims": [first.to_json(), second.to_json()],
        **fault_fields(faults),
        "message": (
            f"{first.node} and {second.node} both led term {term}, at different "
            f"times: two leaders in one term {describe_faults(faults)}"
        ),
    }


def term_regressions(tl: Timeline) -> list[dict[str, Any]]:
    """``term-regression`` anomalies: a node answering with a lower term than it had.

    A term only grows in Raft (section 5.1) and is persisted with the vote; a node
    that comes back with a lower one lost both, and may grant a second vote in a term
    it already voted in. One anomaly per drop, from the last answer with the higher term
    to the first with the lower one.
    """
    watch = TermWatch()
    out: list[dict[str, Any]] = []
    for s in tl.samples:
        before = watch.add(s)
        if before is not None:
            out.append(regression_anomaly(tl, s, before))
    return out


class TermWatch:
    """The last term each node answered with, one sample at a time (offline and live)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, int]] = {}

    def add(self, s: Sample) -> tuple[int, int] | None:
        """The (term, time) ``s`` went back from, when its term is lower than before."""
        if s.term is None or s.role == "down":
            return None
        before = self._last.get(s.node)
        self._last[s.node] = (s.term, s.time)
        return before if before is not None and s.term < before[0] else None


def regression_anomaly(tl: Timeline, s: Sample, before: tuple[int, int]) -> dict[str, Any]:
    """The ``term-regression`` anomaly of sample ``s``, lower than ``before`` (term, time)."""
    faults = faults_during(tl.faults, before[1], s.time, tl.end)
    return {
        "kind": "term-regression",
        "same_term": None,
        "nodes": [s.node],
        "terms": [before[0], s.term],
        "start": before[1],
        "end": s.time,
        "duration_ms": 0.0,
        **fault_fields(faults),
        "message": (
            f"{s.node} went back from term {before[0]} to term {s.term}: it lost the "
            f"term it voted in and can vote twice in one term {describe_faults(faults)}"
        ),
    }
