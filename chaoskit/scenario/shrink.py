"""Shrinking a failing fault schedule: the smallest one that still fails the same way.

Delta debugging (Zeller's ddmin) over the fault events of a run's tape, as Hypothesis
and QuickCheck shrink a failing input, then finer passes: shorter faults, an earlier
start and shorter gaps, smaller targets (a partition's minority, fewer victims), fewer
clients. A candidate is kept only when re-runs show an anomaly of the same kind
(same checker and kind). Runs are not deterministic (elections race), so a candidate
is tried up to ``tries`` (3) times and kept once it has reproduced ``need`` (2) times;
it stops as soon as the outcome is settled. Two of three, not the first reproduction:
keeping at the first one let lucky schedules through (a forget-vote kill moved earlier
reproduced once, then 0 times in 2 confirming runs), and every later candidate builds
on the one kept. A schedule that reproduces 80% of the time is kept 9 times in 10; one
that reproduces a third of the time, once in four. The finer passes (shorter, earlier,
smaller targets, fewer clients) need every try to reproduce: they push a schedule
towards the edge where it stops failing (a no-step-down isolation cut to 1.2 s at
1.3 s kept 2 of 2 at every step and then failed 2 times in 5), and they are worth
less than a dropped fault. The cheap, likely candidates go first: the events the
checker saw active during the anomaly (``hints``), then ddmin.

Every candidate kept has reproduced, so the result is never a smaller schedule that
does not fail. Each candidate's time limit is its last fault's end plus ``margin``
(long enough for the checkers to see what follows a heal), not the original minute,
so late candidates are short runs. The runner is given (``outcome.Runner``): the real
one starts clusters (``chaoskit.run.rerun``), tests use a fake one.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chaoskit.core.nemesis import ROLES
from chaoskit.scenario.model import Step
from chaoskit.scenario.outcome import Candidate, Kind, Outcome, Runner

#: Faults are not shortened below this (seconds): shorter ones show nothing.
MIN_DURATION_S = 1.0
#: The first fault is not moved before this (seconds) by default: a first leader needs
#: the time (the caller gives more: ``min_start``).
MIN_START_S = 1.0


class BudgetSpent(Exception):
    """No re-run left."""


@dataclass
class Trial:
    """One candidate tried: what changed, its runs, whether it was kept."""

    index: int
    change: str
    events: int
    time_limit: float
    runs: list[dict[str, Any]] = field(default_factory=list)
    accepted: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class ShrinkResult:
    """What the shrinking found and what it cost."""

    kind: Kind
    original: Candidate
    best: Candidate
    trials: list[Trial]
    reruns: int
    wall_s: float
    budget_spent: bool
    #: The result before the finer passes (dropped faults only): the fallback when the
    #: shorter, smaller ``best`` turns out to reproduce less often.
    coarse: Candidate | None = None
    #: When both were confirmed: each one's reproductions and which was kept.
    fallback: dict[str, Any] | None = None


class Shrinker:
    """Shrinks a candidate against a runner, within a budget of re-runs."""

    def __init__(
        self,
        runner: Runner,
        kind: Kind,
        *,
        budget: int,
        tries: int = 3,
        need: int = 2,
        margin: float = 6.0,
        min_start: float = MIN_START_S,
        min_duration: float = MIN_DURATION_S,
        on_trial: Callable[[Trial], None] | None = None,
    ) -> None:
        self.runner = runner
        self.kind = kind
        self.budget = budget
        self.tries = tries
        self.need = max(1, min(need, tries))
        self.margin = margin
        self.min_start = min_start
        self.min_duration = min_duration
        self.on_trial = on_trial
        self.trials: list[Trial] = []
        self.reruns = 0
        self._seen: dict[Candidate, bool] = {}

    async def shrink(
        self, original: Candidate, hints: Sequence[Iterable[int]] = ()
    ) -> ShrinkResult:
        """The smallest candidate found that reproduced (``original`` when none did)."""
        started = time.monotonic()
        best, spent, coarse = original, False, None
        try:
            best = await self._hints(best, hints)
            best = coarse = await self._ddmin(best)
            for shrink_pass in (
                self._durations,
                self._start,
                self._gaps,
                self._targets,
                self._clients,
            ):
                best = await shrink_pass(best)
        except BudgetSpent:
            spent = True
            best = self._best_so_far(original)
        return ShrinkResult(
            kind=self.kind,
            original=original,
            best=best,
            trials=self.trials,
            reruns=self.reruns,
            wall_s=round(time.monotonic() - started, 1),
            budget_spent=spent,
            coarse=coarse,
        )

    # -- trying one candidate --------------------------------------------------------

    async def test(self, candidate: Candidate, change: str, *, strict: bool = False) -> bool:
        """Re-run ``candidate`` until it reproduced ``need`` times (kept) or no longer
        can within ``tries`` (dropped); ``strict``: every try must reproduce."""
        if candidate in self._seen:
            return self._seen[candidate]
        if self.reruns >= self.budget:
            raise BudgetSpent
        trial = Trial(len(self.trials) + 1, change, candidate.events, candidate.time_limit)
        self.trials.append(trial)
        self._seen[candidate] = False
        need = self.tries if strict else self.need
        hits = misses = 0
        while hits < need and misses <= self.tries - need:
            if self.reruns >= self.budget:
                raise BudgetSpent
            self.reruns += 1
            outcome: Outcome = await self.runner(candidate, "shrink", self.reruns)
            trial.runs.append(outcome.to_json(self.kind))
            if outcome.reproduced(self.kind):
                hits += 1
            else:
                misses += 1
        trial.accepted = self._seen[candidate] = hits >= need
        if self.on_trial is not None:
            self.on_trial(trial)
        return trial.accepted

    def _best_so_far(self, original: Candidate) -> Candidate:
        """The last accepted candidate (they only ever get smaller)."""
        accepted = [c for c, ok in self._seen.items() if ok]
        return accepted[-1] if accepted else original

    def with_steps(self, candidate: Candidate, steps: Sequence[Step]) -> Candidate:
        """``candidate`` with other steps; its time limit follows the last end."""
        ends = [(s.at or 0.0) + s.delay + s.duration for s in steps]
        limit = round(max(ends, default=0.0) + self.margin, 3)
        return dataclasses.replace(candidate, steps=tuple(steps), time_limit=limit)

    # -- the passes ------------------------------------------------------------------

    async def _hints(self, best: Candidate, hints: Sequence[Iterable[int]]) -> Candidate:
        """The events the anomaly points at, before any blind search."""
        for hint in hints:
            keep = sorted(set(hint))
            if not keep or len(keep) >= len(best.steps):
                continue
            steps = [best.steps[i] for i in keep]
            candidate = self.with_steps(best, steps)
            if await self.test(candidate, f"keep only {describe(steps)} (the anomaly's faults)"):
                return candidate
        return best

    async def _ddmin(self, best: Candidate) -> Candidate:
        """ddmin over the events: subsets, then complements, at finer granularity."""
        items = list(range(len(best.steps)))
        base = best.steps
        n = 2
        while len(items) >= 2:
            chunks = _split(items, n)
            found = None
            for subset in chunks:
                if await self._try_events(best, base, subset):
                    found, n = subset, 2
                    break
            if found is None and n > 2:
                for chunk in chunks:
                    complement = [i for i in items if i not in chunk]
                    if await self._try_events(best, base, complement):
                        found, n = complement, max(n - 1, 2)
                        break
            if found is not None:
                items = found
                best = self.with_steps(best, [base[i] for i in items])
                continue
            if n >= len(items):
                break
            n = min(len(items), 2 * n)
        return best

    async def _try_events(self, best: Candidate, base: tuple[Step, ...], keep: list[int]) -> bool:
        steps = [base[i] for i in keep]
        return await self.test(self.with_steps(best, steps), f"keep only {describe(steps)}")

    async def _targets(self, best: Candidate) -> Candidate:
        """Fewer targets: drop one node at a time from explicit lists of several."""
        for i in range(len(best.steps)):
            while True:
                step = best.steps[i]
                nodes = step.targets
                if not isinstance(nodes, tuple) or len(nodes) < 2:
                    break
                for drop in reversed(range(len(nodes))):
                    smaller = nodes[:drop] + nodes[drop + 1 :]
                    candidate = self._replace(best, i, targets=smaller)
                    change = f"{label(step)}: targets {', '.join(smaller)}"
                    if await self.test(candidate, change, strict=True):
                        best = candidate
                        break
                else:
                    break
        return best

    async def _durations(self, best: Candidate) -> Candidate:
        """Shorter faults: halve each one's duration while it still fails."""
        for i in range(len(best.steps)):
            while best.steps[i].duration / 2 >= self.min_duration:
                half = round(best.steps[i].duration / 2, 3)
                candidate = self._replace(best, i, duration=half)
                change = f"{label(best.steps[i])}: lasts {half:g} s"
                if not await self.test(candidate, change, strict=True):
                    break
                best = candidate
        return best

    async def _start(self, best: Candidate) -> Candidate:
        """Everything earlier: halve the quiet time before the first fault."""
        while best.steps:
            first = min((s.at or 0.0) for s in best.steps)
            shift = round(first / 2, 3)
            if first - shift < self.min_start or shift < 0.5:
                break
            steps = [dataclasses.replace(s, at=round((s.at or 0.0) - shift, 3)) for s in best.steps]
            candidate = self.with_steps(best, steps)
            if not await self.test(candidate, f"all events {shift:g} s earlier", strict=True):
                break
            best = candidate
        return best

    async def _gaps(self, best: Candidate) -> Candidate:
        """Shorter gaps: halve the quiet time before each later fault."""
        order = sorted(range(len(best.steps)), key=lambda i: best.steps[i].at or 0.0)
        for pos in range(1, len(order)):
            i = order[pos]
            before = max((best.steps[j].at or 0.0) + best.steps[j].duration for j in order[:pos])
            gap = (best.steps[i].at or 0.0) - before
            if gap < 1.0:
                continue
            shift = round(gap / 2, 3)
            later = set(order[pos:])
            steps = [
                dataclasses.replace(s, at=round((s.at or 0.0) - shift, 3)) if j in later else s
                for j, s in enumerate(best.steps)
            ]
            candidate = self.with_steps(best, steps)
            change = f"{label(best.steps[i])}: {shift:g} s earlier (gap {gap - shift:g} s)"
            if await self.test(candidate, change, strict=True):
                best = candidate
        return best

    async def _clients(self, best: Candidate) -> Candidate:
        """Fewer clients: halve the leader-following and the bound ones while it fails.

        Bound clients are pinned to n1, n2, ... in turn; while a fault aims at a role
        (``leader``), which node it hits changes from run to run, so every node keeps
        its bound client: with fewer, a stale-read schedule kept 3 reproductions of 3
        (the leader happened to be n1 or n2) and then 0 of 5."""
        names = ["concurrency"]
        if not any(_aims_at_a_role(s) for s in best.steps):
            names.append("bound_clients")
        for name in names:
            while getattr(best, name) > 0:
                fewer = getattr(best, name) // 2
                candidate = dataclasses.replace(best, **{name: fewer})
                what = "clients following the leader" if name == "concurrency" else "bound clients"
                if not await self.test(candidate, f"{fewer} {what}", strict=True):
                    break
                best = candidate
        return best

    def _replace(self, best: Candidate, i: int, **changes: Any) -> Candidate:
        steps = list(best.steps)
        steps[i] = dataclasses.replace(steps[i], **changes)
        return self.with_steps(best, steps)


def _aims_at_a_role(step: Step) -> bool:
    """Whether the step's targets name a node by what it is (``leader``, ...) or come
    from the nemesis's default (which the ``-leader`` nemeses aim at the leader)."""
    targets = step.targets
    if targets is None:
        return True
    items = (targets,) if isinstance(targets, str) else targets
    return any(t in ROLES for t in items)


def _split(items: list[int], n: int) -> list[list[int]]:
    """``items`` in ``n`` nearly equal consecutive chunks."""
    size, extra = divmod(len(items), n)
    chunks, start = [], 0
    for k in range(n):
        end = start + size + (1 if k < extra else 0)
        if end > start:
            chunks.append(items[start:end])
        start = end
    return chunks


def label(step: Step) -> str:
    """``isolate@4.2s``: a fault event by its nemesis and start, stable while shrinking."""
    return f"{step.key}@{step.at or 0.0:g}s"


def describe(steps: Sequence[Step]) -> str:
    return ", ".join(label(s) for s in steps) or "no fault"
