"""The ``split-brain`` checker, live: overlapping claims, stale leaders, per-term rules.

Every observation goes through the offline ``ClaimBuilder``; when it opens or extends
a claim, the claim is compared with the other claims by ``split_brain.overlap``. A new
overlapping pair that ``split_brain.reported`` counts starts an episode unless it
begins within ``MERGE_GAP_NS`` of the current episode of its kind (same term, no
term, different terms), as ``split_brain.merge`` groups them; the anomaly is
``split_brain.episode`` of that first pair. So the live anomaly's window starts where
the offline episode starts, unless the offline check later merges it into an episode
that began earlier (a pair found later with an earlier start): then it lies inside it.

Under ``per-term``: ``TermWatch`` reports a term that goes down on the sample that
shows it. A new claim of a term another node led is an ``election-safety`` anomaly
once that node's next answer shows its claim did not reach into the new one (had it,
the pair overlaps: a same-term split brain). Should the two claims still come to
overlap later (a paused leader that wakes up), the offline check names the pair a
same-term ``split-brain`` instead: the same finding, two leaders in one term.

Stale leaders need the deadline clock: ``stale_leaders`` runs on the claims so far, at
most every ``STALE_EVERY_NS``, and only while a claim of a lower term than another
node's grows past the deadline.
"""

from __future__ import annotations

from typing import Any

from chaoskit.checkers._faults import FaultSpan
from chaoskit.checkers._per_term import TermWatch, regression_anomaly, safety_anomaly
from chaoskit.checkers._timeline import Claim, ClaimBuilder, Sample
from chaoskit.checkers.live._view import Emit, LiveRun
from chaoskit.checkers.split_brain import (
    MERGE_GAP_NS,
    Overlap,
    episode,
    overlap,
    reported,
    stale_leaders,
)

NAME = "split-brain"
#: How often (run time) the stale-leader rule is evaluated while a stale claim grows.
STALE_EVERY_NS = 100_000_000


class LiveSplitBrain:
    """Feeds observations to the split-brain rules; reports each anomaly once."""

    def __init__(self, run: LiveRun, emit: Emit) -> None:
        self.run = run
        self.emit = emit
        self.claims = ClaimBuilder()
        self.terms = TermWatch()
        self._pairs: set[tuple[int, int]] = set()
        self._episodes: dict[bool | None, list[Overlap]] = {}
        self._by_term: dict[int, list[Claim]] = {}
        self._highest: dict[str, int] = {}
        #: node -> (its claim, a newer claim of the same term by another node)
        self._safety: dict[str, list[tuple[Claim, Claim]]] = {}
        self._stale_due = False
        self._stale_checked = 0
        self._stale_seen: set[tuple[Any, ...]] = set()

    def fault_started(self, span: FaultSpan) -> None:
        """A fault began: the nodes it takes down cannot be asked until it stops, so
        their claims end at their last answers (the offline ``Hidden`` rule)."""
        self.claims.hidden.add(span)

    def sample(self, s: Sample) -> None:
        if self.run.policy == "per-term":
            before = self.terms.add(s)
            if before is not None:
                self.emit(NAME, regression_anomaly(self.run.timeline(), s, before))
        claim = self.claims.add(s)
        if s.node in self._safety:
            self._settle_safety(s)
        if claim is not None:
            if claim.samples == 1 and claim.term is not None:
                self._opened(claim)
            self._compare(claim)
            self._note_stale(claim)
        if self._stale_due and s.time - self._stale_checked >= STALE_EVERY_NS:
            self._check_stale(s.time)

    def _compare(self, claim: Claim) -> None:
        """New overlapping pairs of ``claim`` with the other nodes' claims."""
        for other in self.claims.opened:
            if other.node == claim.node or other.end < claim.start:
                continue
            if (other.start, other.node) <= (claim.start, claim.node):
                first, second = other, claim
            else:
                first, second = claim, other
            key = (id(first), id(second))
            if key in self._pairs:
                continue
            found = overlap(first, second)
            if found is None:
                continue
            self._pairs.add(key)
            if reported(found, self.run.policy):
                self._episode(found)

    def _episode(self, found: Overlap) -> None:
        kind = found.same_term
        current = self._episodes.get(kind)
        if current:
            end = max(min(o.a.end, o.b.end) for o in current)
            if found.start <= end + MERGE_GAP_NS:
                current.append(found)
                return
        self._episodes[kind] = [found]
        self.emit(NAME, episode(self.run.timeline(), [found], live=True))

    def _opened(self, claim: Claim) -> None:
        """A new claim of a term: another node that led it must have stopped before."""
        assert claim.term is not None
        same = self._by_term.setdefault(claim.term, [])
        if self.run.policy == "per-term":
            for other in same:
                if other.node != claim.node:
                    self._safety.setdefault(other.node, []).append((other, claim))
        same.append(claim)

    def _settle_safety(self, s: Sample) -> None:
        """``s.node`` answered again: did its claim reach into the newer one?"""
        waiting = []
        for older, newer in self._safety.pop(s.node):
            if s.time <= newer.start:
                waiting.append((older, newer))
            elif overlap(older, newer) is None:
                self.emit(NAME, safety_anomaly(self.run.timeline(), older, newer))
        if waiting:
            self._safety[s.node] = waiting

    def _note_stale(self, claim: Claim) -> None:
        """A claim of a lower term than another node's, longer than the deadline, may
        be a stale leader: the rule is evaluated shortly."""
        if claim.term is None:
            return
        self._highest[claim.node] = max(claim.term, self._highest.get(claim.node, claim.term))
        if claim.end - claim.start <= self.run.deadline_ns:
            return
        if any(t > claim.term for n, t in self._highest.items() if n != claim.node):
            self._stale_due = True

    def _check_stale(self, now: int) -> None:
        self._stale_checked = now
        self._stale_due = False
        for anomaly in stale_leaders(self.run.timeline(), self.claims.claims()):
            key = (anomaly["nodes"][0], anomaly["terms"][0])
            if key not in self._stale_seen:
                self._stale_seen.add(key)
                self.emit(NAME, anomaly)
