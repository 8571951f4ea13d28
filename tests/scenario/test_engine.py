"""The engine on made-up time: a fake clock, a fake observer, a fake fault book.

Every trigger of docs/scenarios.md is exercised against a scripted leader stream: at a
time, after the previous step, together with it, when a leader is elected, when a new
one appears (the old one as a target), when the cluster is stable, repeat, timeout;
and the tape records what fired, on whom, when and why.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from chaoskit.scenario.engine import Engine
from chaoskit.scenario.model import Step
from chaoskit.scenario.tape import Tape, TapeEvent, tape_steps
from chaoskit.scenario.targets import resolve

IDS = ["n1", "n2", "n3", "n4", "n5"]


class FakeTime:
    """Scenario time that moves only when the engine sleeps."""

    def __init__(self) -> None:
        self.t = 0.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t = round(self.t + max(seconds, 0.001), 6)


@dataclass
class Observer:
    """The leader at each time, from a script of ``(from_time, leader)``."""

    time: FakeTime
    script: list[tuple[float, str | None]]

    def current_leader(self) -> str | None:
        leader = None
        for start, who in self.script:
            if self.time.t >= start:
                leader = who
        return leader

    def roles(self) -> dict[str, str]:
        return {n: ("leader" if n == self.current_leader() else "follower") for n in IDS}


@dataclass
class Book:
    """A fault book that records starts and stops, at scenario time."""

    time: FakeTime
    defaults: dict[str, str] = field(default_factory=dict)
    log: list[tuple[float, str, str, tuple[str, ...]]] = field(default_factory=list)
    nothing: set[str] = field(default_factory=set)
    _next: int = 1
    _keys: dict[int, str] = field(default_factory=dict)

    @property
    def ids(self) -> list[str]:
        return IDS

    def rng(self, key: str) -> random.Random:
        return random.Random(key)

    def default_targets(self, key: str) -> str:
        return self.defaults.get(key.partition(":")[0], "one")

    async def start(
        self,
        key: str,
        targets: list[str],
        event: int,
        roles: Mapping[str, str] | None = None,
        fallback: bool = False,
    ) -> int | None:
        if key in self.nothing:
            return None
        self.log.append((self.time.t, "start", key, tuple(targets)))
        fault_id, self._next = self._next, self._next + 1
        self._keys[fault_id] = key
        return fault_id

    async def stop(self, fault_id: int) -> None:
        self.log.append((self.time.t, "stop", self._keys[fault_id], ()))


def engine(script: list[tuple[float, str | None]], **defaults: str) -> tuple[Engine, Book]:
    time = FakeTime()
    book = Book(time, defaults=defaults)
    return Engine(book, Observer(time, script), Tape(), now=time.now, sleep=time.sleep), book


def starts(book: Book) -> list[tuple[float, str, tuple[str, ...]]]:
    return [(round(t, 2), key, targets) for t, kind, key, targets in book.log if kind == "start"]


def stops(book: Book) -> list[float]:
    return [round(t, 2) for t, kind, _, _ in book.log if kind == "stop"]


async def test_timed_steps_start_and_stop_on_time_and_are_taped() -> None:
    eng, book = engine([(0.0, "n1")])
    steps = [
        Step(nemesis="kill", targets=("n2",), at=1.0, duration=2.0),
        Step(nemesis="pause", targets=("n3", "n4"), at=2.0, duration=1.0),
    ]
    await eng.run(steps, until=5.0)
    assert starts(book) == [(1.0, "kill", ("n2",)), (2.0, "pause", ("n3", "n4"))]
    assert stops(book) == [3.0, 3.0]
    events = eng.tape.events
    assert [(e.start, e.end, e.fault_id) for e in events] == [(1.0, 3.0, 1), (2.0, 3.0, 2)]
    assert events[0].trigger["at"] == 1.0 and events[0].roles == {"n2": "follower"}


async def test_after_the_previous_end_or_start_and_a_delay() -> None:
    eng, book = engine([(0.0, "n1")])
    steps = [
        Step(nemesis="kill", targets=("n2",), delay=1.0, duration=2.0),
        Step(nemesis="pause", targets=("n3",), delay=0.5, duration=1.0),
        Step(nemesis="isolate", targets=("n4",), after="start", duration=1.0),
    ]
    await eng.run(steps, until=6.0)
    assert starts(book) == [
        (1.0, "kill", ("n2",)),
        (3.5, "pause", ("n3",)),  # 0.5 s after the kill ended
        (3.5, "isolate", ("n4",)),  # together with the pause
    ]


async def test_when_a_leader_is_elected_isolate_it() -> None:
    eng, book = engine([(0.0, None), (2.0, "n3")], isolate="one")
    await eng.run([Step(nemesis="isolate", targets="leader", when="leader", duration=1)], 4.0)
    assert starts(book) == [(2.0, "isolate", ("n3",))]
    event = eng.tape.events[0]
    assert event.roles == {"n3": "leader"} and not event.fallback
    assert event.trigger["when"] == "leader" and event.trigger["fired"] == 2.0


async def test_when_a_new_leader_appears_pause_the_old_one() -> None:
    script = [(0.0, "n1"), (3.0, None), (4.0, "n2")]
    eng, book = engine(script)
    steps = [Step(nemesis="pause", targets="old-leader", when="new-leader", duration=1)]
    await eng.run(steps, until=6.0)
    assert starts(book) == [(4.0, "pause", ("n1",))]
    assert eng.tape.events[0].roles == {"n1": "old-leader"}
    assert eng.tape.leaders == [(0.0, "n1"), (3.0, None), (4.0, "n2")]


async def test_wait_until_stable_then_repeat() -> None:
    script = [(0.0, None), (0.5, "n1"), (1.0, "n2")]
    eng, book = engine(script)
    steps = [
        Step(when="stable", stable=2.0),
        Step(nemesis="kill", targets="leader", duration=1.0, delay=0.5, repeat=3),
    ]
    await eng.run(steps, until=12.0)
    # n2 leads from 1.0, stable for 2 s at 3.0; then three kills, 0.5 s apart.
    assert starts(book) == [(3.5, "kill", ("n2",)), (5.0, "kill", ("n2",)), (6.5, "kill", ("n2",))]
    assert [e.repetition for e in eng.tape.events] == [0, 1, 2]


async def test_a_when_that_never_comes_is_skipped_and_the_next_step_goes_on() -> None:
    eng, book = engine([(0.0, "n1")])
    steps = [
        Step(nemesis="pause", targets="leader", when="new-leader", timeout=2.0, duration=1),
        Step(nemesis="kill", targets=("n5",), duration=1),
    ]
    await eng.run(steps, until=5.0)
    assert starts(book) == [(2.0, "kill", ("n5",))]
    assert eng.tape.skipped == [
        {"step": 0, "repetition": 0, "nemesis": "pause", "reason": "no new-leader within 2 s"}
    ]


async def test_the_end_cuts_active_faults_short_and_lists_steps_not_reached() -> None:
    eng, book = engine([(0.0, "n1")])
    steps = [
        Step(nemesis="kill", targets=("n2",), at=1.0, duration=10.0),
        Step(nemesis="pause", targets=("n3",), duration=1.0),
    ]
    await eng.run(steps, until=3.0)
    assert stops(book) == [3.0]
    assert eng.tape.events[0].cut_short is True and eng.tape.events[0].end == 3.0
    assert [s["nemesis"] for s in eng.tape.skipped] == ["pause"]


async def test_a_nemesis_that_does_nothing_is_taped_but_not_healed() -> None:
    eng, book = engine([(0.0, "n1")])
    book.nothing.add("none")
    await eng.run([Step(nemesis="none", at=0.5, duration=1.0)], until=2.0)
    assert book.log == []
    assert [e.applied for e in eng.tape.events] == [False]
    assert tape_steps(eng.tape) == []


async def test_no_leader_falls_back_to_a_random_node_and_says_so() -> None:
    eng, book = engine([(0.0, None)])
    await eng.run([Step(nemesis="kill", targets="leader", at=0.5, duration=1.0)], until=2.0)
    assert eng.tape.events[0].fallback is True and len(starts(book)) == 1


async def test_default_targets_come_from_the_nemesis_and_draws_are_seeded() -> None:
    runs = []
    for _ in range(2):
        eng, book = engine([(0.0, "n1")], kill="minority")
        await eng.run([Step(nemesis="kill", at=0.5, duration=1.0)], until=2.0)
        runs.append(starts(book))
        assert eng.tape.events[0].select == "minority"
    assert runs[0] == runs[1]


async def test_manual_faults_go_through_the_engine_and_onto_the_tape() -> None:
    eng, book = engine([(0.0, "n4")], **{"isolate-leader": "leader"})
    eng.observe()
    event = await eng.apply("isolate-leader")
    assert event.nodes == ["n4"] and event.step is None and event.trigger == {"manual": True}
    await eng.heal("isolate-leader")
    assert [kind for _, kind, _, _ in book.log] == ["start", "stop"]


def test_a_tape_becomes_steps_roles_kept_draws_pinned() -> None:
    tape = Tape()
    common = {"step": 0, "repetition": 0, "options": {}, "roles": {}, "fallback": False}
    tape.events = [
        TapeEvent(
            id=1,
            nemesis="kill",
            select="minority",
            nodes=["n2", "n4"],
            trigger={},
            start=1.0,
            end=3.5,
            fault_id=1,
            **common,
        ),
        TapeEvent(
            id=2,
            nemesis="isolate",
            select="leader",
            nodes=["n1"],
            trigger={},
            start=5.0,
            end=None,
            fault_id=2,
            **common,
        ),
        TapeEvent(
            id=3,
            nemesis="pause",
            select=("old-leader", "n5"),
            nodes=["n3", "n5"],
            trigger={},
            start=6.0,
            end=7.0,
            fault_id=3,
            **common,
        ),
    ]
    steps = tape_steps(tape, end=9.0)
    assert [(s.nemesis, s.targets, s.at, s.duration) for s in steps] == [
        ("kill", ("n2", "n4"), 1.0, 2.5),
        ("isolate", "leader", 5.0, 4.0),
        ("pause", ("old-leader", "n5"), 6.0, 1.0),
    ]


@pytest.mark.parametrize(
    ("selector", "size"), [("one", 1), ("half", 2), ("majority", 3), ("all", 5), ("4", 4)]
)
def test_group_selectors_draw_their_size(selector: str, size: int) -> None:
    class Nobody:
        current = None
        previous = None

    got = resolve(selector, IDS, random.Random(1), Nobody())
    assert len(got.nodes) == size and len(set(got.nodes)) == size
    minority = {len(resolve("minority", IDS, random.Random(s), Nobody()).nodes) for s in range(30)}
    assert minority == {1, 2}


def test_a_replayed_step_asks_when_the_original_asked() -> None:
    """Applying and healing can take seconds on a busy proxy: a replay asks for the
    fault when the original engine did, and holds it as long after it is in place."""
    event = TapeEvent(
        id=1, step=0, repetition=0, nemesis="isolate", options={}, select="leader",
        nodes=["n1"], roles={}, fallback=False, trigger={}, start=1.5, end=4.2,
        fault_id=1, requested=0.8, stop_requested=3.5,
    )  # fmt: skip
    [step] = tape_steps(Tape(events=[event]))
    assert (step.at, step.duration) == (0.8, 2.0)


async def test_the_engine_records_when_it_asked() -> None:
    eng, _ = engine([(0.0, "n1")])
    await eng.run([Step(nemesis="kill", targets=("n2",), at=1.0, duration=2.0)], until=4.0)
    [event] = eng.tape.events
    assert (event.requested, event.start, event.stop_requested, event.end) == (1.0, 1.0, 3.0, 3.0)
