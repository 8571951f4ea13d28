"""The shrinker on a fake runner: deterministic, fast, and honest about what it keeps.

The fake "bug" fails a run when certain fault events are all present (and, for some
tests, only on some tries, as real runs do). The shrinker must find the smallest set,
never keep a candidate that did not reproduce, stay within its budget, and do the
finer passes (shorter faults, earlier start, smaller targets, fewer clients).
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from chaoskit.scenario.model import Step
from chaoskit.scenario.outcome import Candidate, Kind, Outcome, choose_kind, kinds_of
from chaoskit.scenario.shrink import Shrinker

KIND: Kind = ("split-brain", "stale-leader")


def steps(n: int) -> tuple[Step, ...]:
    return tuple(
        Step(nemesis="kill", targets=(f"n{i % 5 + 1}", f"n{(i + 1) % 5 + 1}"), at=5.0 * i + 2,
             duration=4.0, note=f"e{i}")
        for i in range(n)
    )  # fmt: skip


def candidate(n: int = 10, concurrency: int = 4, bound: int = 2) -> Candidate:
    s = steps(n)
    return Candidate(s, concurrency, bound, time_limit=60.0)


class FakeRunner:
    """Fails (finds KIND) when ``fails(candidate)``; records every run."""

    def __init__(self, fails: Callable[[Candidate], bool], flaky: float = 0.0) -> None:
        self.fails = fails
        self.flaky = flaky
        self.rng = random.Random(7)
        self.runs: list[Candidate] = []

    async def __call__(self, candidate: Candidate, purpose: str, index: int) -> Outcome:
        self.runs.append(candidate)
        hit = self.fails(candidate) and self.rng.random() >= self.flaky
        return Outcome(None, kinds=[KIND] if hit else [], valid=not hit)


def needs(*events: int) -> Callable[[Candidate], bool]:
    """The bug shows when these fault events (by their note) are all there."""
    return lambda c: {f"e{i}" for i in events} <= {s.note for s in c.steps}


async def test_ddmin_finds_the_two_faults_that_matter() -> None:
    runner = FakeRunner(needs(2, 7))
    result = await Shrinker(runner, KIND, budget=200, tries=1).shrink(candidate())
    assert sorted(s.at for s in result.best.steps) != []
    # The two faults (maybe moved earlier by the timing passes) and nothing else.
    assert result.best.events == 2
    assert not result.budget_spent
    assert result.reruns == len(runner.runs)


async def test_every_kept_candidate_reproduced_and_the_result_is_the_last_kept() -> None:
    runner = FakeRunner(needs(2), flaky=0.3)
    shrinker = Shrinker(runner, KIND, budget=80, tries=3)
    result = await shrinker.shrink(candidate())
    kept = [t for t in result.trials if t.accepted]
    assert kept, "something was kept"
    for trial in result.trials:
        reproduced = [r["reproduced"] for r in trial.runs]
        # Dropping faults: kept at 2 reproductions of 3; the finer passes: 3 of 3.
        need = 2 if trial.change.startswith("keep only") else 3
        assert trial.accepted == (sum(reproduced) >= need)
        assert len(trial.runs) <= 3
        if trial.accepted:
            assert reproduced[-1] is True  # no more tries once kept
        else:
            assert reproduced.count(False) == 4 - need  # dropped once it cannot make it
    assert result.best.events == kept[-1].events


async def test_the_budget_is_never_exceeded() -> None:
    runner = FakeRunner(needs(2, 7))
    result = await Shrinker(runner, KIND, budget=5, tries=3).shrink(candidate())
    assert len(runner.runs) == result.reruns == 5
    assert result.budget_spent
    assert all(t.runs for t in result.trials), "no trial is listed that never ran"
    # Whatever it returns has reproduced (or is the original, never re-run as smaller).
    assert result.best == result.original or any(t.accepted for t in result.trials)


async def test_a_schedule_that_never_fails_again_stays_the_original() -> None:
    runner = FakeRunner(lambda c: False)
    result = await Shrinker(runner, KIND, budget=30, tries=2).shrink(candidate(6))
    assert result.best == result.original
    assert not any(t.accepted for t in result.trials)


async def test_hints_go_first_and_save_the_search() -> None:
    runner = FakeRunner(needs(2))
    result = await Shrinker(runner, KIND, budget=100, tries=1).shrink(candidate(), [[2]])
    assert result.trials[0].accepted and result.trials[0].events == 1
    assert "the anomaly's faults" in result.trials[0].change


async def test_finer_passes_shorten_move_earlier_shrink_targets_and_clients() -> None:
    runner = FakeRunner(needs(2))
    shrinker = Shrinker(runner, KIND, budget=200, tries=1, margin=5.0)
    result = await shrinker.shrink(candidate())
    (step,) = result.best.steps
    assert step.duration < 2.0  # 4 -> 2 -> 1 s
    assert step.at is not None and step.at < 12.0  # the quiet time before it halved
    assert isinstance(step.targets, tuple) and len(step.targets) == 1
    assert result.best.concurrency == 0 and result.best.bound_clients == 0
    assert result.best.time_limit == round(step.at + step.duration + 5.0, 3)


async def test_the_same_candidate_is_never_run_twice() -> None:
    runner = FakeRunner(needs(2, 7))
    await Shrinker(runner, KIND, budget=200, tries=1).shrink(candidate())
    assert len(runner.runs) == len(set(runner.runs))


def test_the_kind_to_keep_prefers_safety_and_can_be_chosen() -> None:
    results = {
        "checkers": {
            "stalled-election": {"anomalies": [{"kind": "stalled-election", "start": 1}]},
            "linearizable": {"anomalies": [{"kind": "non-linearizable", "start": 9}]},
        }
    }
    assert kinds_of(results) == [
        ("stalled-election", "stalled-election"),
        ("linearizable", "non-linearizable"),
    ]
    assert choose_kind(results) == ("linearizable", "non-linearizable")
    assert choose_kind(results, "stalled-election") == ("stalled-election", "stalled-election")
    assert choose_kind({"checkers": {}}) is None


async def test_bound_clients_stay_while_a_fault_aims_at_a_role() -> None:
    """Which node leads changes from run to run: every node keeps its bound client."""
    aimed = tuple(Step(nemesis="isolate", targets="leader", at=2.0 + 5 * i, duration=3.0,
                       note=f"e{i}") for i in range(2))  # fmt: skip
    runner = FakeRunner(needs(0))
    shrinker = Shrinker(runner, KIND, budget=100, tries=1)
    result = await shrinker.shrink(Candidate(aimed, 4, 5, time_limit=30.0))
    assert result.best.bound_clients == 5 and result.best.concurrency == 0


async def test_a_weaker_finer_result_falls_back_to_the_schedule_before_the_finer_passes() -> None:
    """Confirmed below 80%: the result before the finer passes is confirmed as often
    and kept when it reproduces more; a strong result or no budget left: no extra run."""
    from chaoskit.cli.shrink import fall_back_if_weaker
    from chaoskit.scenario.shrink import ShrinkResult

    long, short = candidate(1), candidate(1)
    short = Candidate((dataclasses.replace(short.steps[0], duration=1.5),), 4, 2, time_limit=20.0)
    flaky = iter([True, False] * 10)
    runner = FakeRunner(lambda c: c.steps[0].duration > 2 or next(flaky))

    def result() -> ShrinkResult:
        return ShrinkResult(KIND, candidate(), short, [], 10, 1.0, False, coarse=long)

    weak = [await runner(short, "shrink", i) for i in range(4)]  # 2 of 4
    kept = result()
    confirmed = await fall_back_if_weaker(kept, weak, runner, KIND, spare=4)  # type: ignore[arg-type]
    assert kept.best == long and len(confirmed) == 4
    assert all(o.reproduced(KIND) for o in confirmed)
    assert kept.fallback == {
        "finer": {"events": 1, "reproduced": 2, "runs": 4},
        "coarse": {"events": 1, "reproduced": 4, "runs": 4},
        "kept": "coarse",
    }
    assert kept.reruns == 14  # the confirming runs of the one dropped count too
    before = len(runner.runs)
    for spare, outcomes in ((3, weak), (10, [Outcome(None, kinds=[KIND])] * 4)):
        untouched = result()  # too few re-runs left / already reproducing 4 of 4
        same = await fall_back_if_weaker(untouched, outcomes, runner, KIND, spare=spare)  # type: ignore[arg-type]
        assert same is outcomes and untouched.best == short and untouched.fallback is None
    assert len(runner.runs) == before
