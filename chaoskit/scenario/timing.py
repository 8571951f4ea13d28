"""When each step fires and ends: a pure state machine over scenario time.

The engine calls ``due(now, leaders)`` on every tick; it answers which faults to start
and which to stop now, and ``wake(now)`` says how long the engine may sleep. Each
repetition of a step moves through: waiting for its reference (``at``, or the previous
step's start or end) -> waiting for its ``when`` event -> its ``delay`` -> active for
its ``duration`` -> done. A ``when`` that does not come within ``timeout`` skips the
rest of the step and the next step carries on from there. No clock, no asyncio: tests
drive it with made-up times and leaders.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chaoskit.scenario.leaders import LeaderWatch
from chaoskit.scenario.model import Step

State = Literal["waiting", "condition", "delay", "active", "done", "skipped"]


@dataclass
class Slot:
    """One repetition of one step, with the times it went through."""

    index: int
    repetition: int
    step: Step
    state: State = "waiting"
    reference: float | None = None
    #: The last leader when the ``when`` wait began (``new-leader`` compares with it).
    baseline: str | None = None
    #: When the trigger (``when``, else the reference) happened.
    fired: float | None = None
    start: float | None = None
    end: float | None = None
    #: Why a skipped slot was skipped.
    reason: str = ""

    @property
    def label(self) -> str:
        suffix = f".{self.repetition + 1}" if self.step.repeat > 1 else ""
        return f"step {self.index + 1}{suffix}"


@dataclass(frozen=True)
class Action:
    """Start or stop the fault of ``slot`` now."""

    kind: Literal["start", "stop"]
    slot: Slot


class Timing:
    """The state of every step of a scenario during one run."""

    def __init__(self, steps: tuple[Step, ...] | list[Step]) -> None:
        self.steps = list(steps)
        #: The slots so far: one per repetition that began waiting.
        self.slots: list[Slot] = []
        self._current: list[Slot | None] = [None] * len(self.steps)
        self._first: list[Slot | None] = [None] * len(self.steps)

    @property
    def finished(self) -> bool:
        return all(self._closed(i) for i in range(len(self.steps)))

    def due(self, now: float, leaders: LeaderWatch) -> list[Action]:
        """Advance every step to ``now``; the faults to start and stop, in step order."""
        actions: list[Action] = []
        for i in range(len(self.steps)):
            actions += self._advance(i, now, leaders)
        return actions

    def wake(self, now: float) -> float | None:
        """The next time something is due without an event (None: nothing timed)."""
        times = []
        for slot in self._open_slots():
            if slot.state == "waiting" and slot.reference is not None:
                times.append(slot.reference)
            elif slot.state == "condition" and slot.step.timeout is not None:
                assert slot.reference is not None
                times.append(slot.reference + slot.step.timeout)
            elif slot.state == "delay" and slot.fired is not None:
                times.append(slot.fired + slot.step.delay)
            elif slot.state == "active" and slot.start is not None:
                times.append(slot.start + slot.step.duration)
        future = [t for t in times if t > now]
        return min(future) if future else None

    def pending(self) -> list[Slot]:
        """Slots not done: still waiting, or active when the run ended."""
        return [s for s in self._open_slots() if s.state not in ("done", "skipped")]

    # -- one step ------------------------------------------------------------------------

    def _advance(self, i: int, now: float, leaders: LeaderWatch) -> list[Action]:
        actions: list[Action] = []
        while True:
            slot = self._slot(i)
            if slot is None:
                return actions
            before = slot.state
            action = self._move(slot, now, leaders)
            if action is not None:
                actions.append(action)
            if slot.state == before or action is not None:
                return actions

    def _slot(self, i: int) -> Slot | None:
        """The current slot of step ``i``, opening the next repetition when due."""
        slot = self._current[i]
        step = self.steps[i]
        if slot is None:
            slot = Slot(i, 0, step)
        elif slot.state == "done" and slot.repetition + 1 < step.repeat:
            slot = Slot(i, slot.repetition + 1, step, reference=slot.end)
        else:
            return slot
        self._current[i] = slot
        if self._first[i] is None:
            self._first[i] = slot
        self.slots.append(slot)
        return slot

    def _move(self, slot: Slot, now: float, leaders: LeaderWatch) -> Action | None:
        step = slot.step
        if slot.state == "waiting":
            if slot.reference is None:
                slot.reference = self._reference(slot.index)
            if slot.reference is not None and now >= slot.reference:
                slot.state = "condition"
                slot.baseline = leaders.last_leader()
        elif slot.state == "condition":
            assert slot.reference is not None
            if step.when is None:
                slot.fired, slot.state = slot.reference, "delay"
            elif _holds(step, slot, now, leaders):
                slot.fired, slot.state = now, "delay"
            elif step.timeout is not None and now >= slot.reference + step.timeout:
                slot.state, slot.end = "skipped", now
                slot.reason = f"no {step.when} within {step.timeout:g} s"
        elif slot.state == "delay":
            assert slot.fired is not None
            if now >= slot.fired + step.delay:
                slot.start, slot.state = now, "active"
                if not step.is_wait:
                    return Action("start", slot)
        elif slot.state == "active":
            assert slot.start is not None
            if now >= slot.start + step.duration:
                slot.end, slot.state = now, "done"
                if not step.is_wait:
                    return Action("stop", slot)
        return None

    def _reference(self, i: int) -> float | None:
        """When step ``i``'s first repetition may begin (None: not known yet)."""
        step = self.steps[i]
        if step.at is not None:
            return step.at
        if i == 0:
            return 0.0
        if step.after == "start":
            first = self._first[i - 1]
            if first is not None and first.start is not None:
                return first.start
            if first is not None and first.state == "skipped":
                return first.end
            return None
        return self._end_of(i - 1)

    def _end_of(self, i: int) -> float | None:
        """When step ``i`` (all its repetitions) was over, if it is."""
        slot = self._current[i]
        if slot is None or not self._closed(i):
            return None
        return slot.end

    def _closed(self, i: int) -> bool:
        slot = self._current[i]
        if slot is None:
            return False
        if slot.state == "skipped":
            return True
        return slot.state == "done" and slot.repetition + 1 >= self.steps[i].repeat

    def _open_slots(self) -> list[Slot]:
        return [s for s in self._current if s is not None]


def _holds(step: Step, slot: Slot, now: float, leaders: LeaderWatch) -> bool:
    """Whether the step's ``when`` event has happened."""
    if step.when == "leader":
        return leaders.current is not None
    if step.when == "new-leader":
        return leaders.current is not None and leaders.current != slot.baseline
    return leaders.current is not None and leaders.stable_for(now) >= step.stable
