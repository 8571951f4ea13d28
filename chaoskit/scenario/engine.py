"""The engine: carries out a scenario's steps against a running cluster, one tick at a
time, and keeps the tape.

Every tick (20 ms, the observer's polling interval) it feeds the observer's current
leader to the ``LeaderWatch``, asks ``Timing`` what is due, and for each fault to start
resolves the step's targets (roles and random draws, targets.py) to node ids at that
very moment, has the fault book apply it to them, and records the event on the tape;
for each fault to stop, has it healed. The random schedule of ``--nemesis``, a
``--scenario`` file, a replay and every shrink candidate all run through here; so do
the faults a test applies by hand (``ChaosCluster.apply``).

The clock and the sleep are given, so tests run the engine on made-up time with a
fake fault book and a fake observer.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from chaoskit.scenario.leaders import LeaderWatch
from chaoskit.scenario.model import Step, Targets
from chaoskit.scenario.tape import Tape, TapeEvent
from chaoskit.scenario.targets import resolve
from chaoskit.scenario.timing import Action, Slot, Timing

TICK_S = 0.02


class FaultActions(Protocol):
    """What the engine needs of the run's fault book."""

    @property
    def ids(self) -> list[str]: ...

    def rng(self, key: str) -> random.Random:
        """The seeded generator of the nemesis ``key`` (its victims are drawn from it)."""

    def default_targets(self, key: str) -> str:
        """The selector the nemesis ``key`` hits when a step names no targets."""

    async def start(
        self,
        key: str,
        targets: list[str],
        event: int,
        roles: Mapping[str, str] | None = None,
        fallback: bool = False,
    ) -> int | None:
        """Apply the fault of ``key`` to ``targets`` (their ``roles`` when chosen; a
        role nobody held gave a random ``fallback``): its fault id, None if nothing done."""

    async def stop(self, fault_id: int) -> None:
        """Heal the fault ``fault_id``."""


class LeaderSource(Protocol):
    """The observer, as the engine reads it."""

    def current_leader(self) -> str | None: ...

    def roles(self) -> dict[str, str]: ...


class Engine:
    """Runs steps through a fault book, triggered by the leader stream, onto a tape."""

    def __init__(
        self,
        faults: FaultActions,
        leaders: LeaderSource,
        tape: Tape,
        *,
        now: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        tick: float = TICK_S,
        stopped: Callable[[], bool] = lambda: False,
    ) -> None:
        self.faults = faults
        self.leaders = leaders
        self.tape = tape
        self.now = now
        self.sleep = sleep
        self.tick = tick
        #: True once the run must end early (``--fail-fast``): checked between steps.
        self.stopped = stopped
        self.watch = LeaderWatch()
        self.timing = Timing(())
        #: Tape events of the faults active now, by slot (None: applied by hand).
        self._active: dict[int, TapeEvent] = {}
        self._slots: dict[int, Slot] = {}

    async def run(self, steps: list[Step] | tuple[Step, ...], until: float) -> None:
        """Carry out ``steps`` until ``until`` (scenario seconds); faults still active
        then are healed and marked cut short, steps not reached are listed as skipped."""
        self.timing = Timing(steps)
        try:
            while True:
                now = self.observe()
                for action in self.timing.due(now, self.watch):
                    await self._do(action)
                now = self.now()
                if now >= until or self.stopped():
                    break
                await self.sleep(max(0.0, min(self.tick, until - now)))
        finally:
            await self.close()

    def observe(self) -> float:
        """Sample the leader stream now; the time of the sample."""
        now = self.now()
        self.watch.update(now, self.leaders.current_leader())
        self.tape.leaders = self.watch.changes
        return now

    async def apply(self, key: str, targets: Targets | None = None) -> TapeEvent:
        """Start a fault now, outside any step (a test driving faults itself)."""
        self.observe()
        return await self._start(key, targets, None, 0, {"manual": True}, None)

    async def heal(self, key: str | None = None) -> None:
        """Stop the active faults of ``key`` (every active fault when None)."""
        for ident, event in list(self._active.items()):
            if key is None or event.key == key:
                await self._stop(ident, cut_short=False)

    async def close(self) -> None:
        """Stop what is still active (cut short) and list the steps never reached."""
        for ident in list(self._active):
            await self._stop(ident, cut_short=True)
        for slot in self.timing.pending():
            if slot.state != "active":
                self.tape.skipped.append(_skipped(slot, "the fault phase ended first"))
        for slot in self.timing.slots:
            if slot.state == "skipped":
                self.tape.skipped.append(_skipped(slot, slot.reason))
        self.timing = Timing(())  # listed once, however often close is called
        self.tape.save()

    # -- one action ------------------------------------------------------------------

    async def _do(self, action: Action) -> None:
        slot = action.slot
        if action.kind == "stop":
            event = self._active.get(id(slot))
            if event is not None:
                await self._stop(id(slot), cut_short=False)
            slot.end = self.now()
            return
        step = slot.step
        assert step.nemesis is not None and slot.fired is not None
        trigger: dict[str, object] = {
            "reference": _r(slot.reference),
            "when": step.when,
            "fired": _r(slot.fired),
            "delay": step.delay,
            **({"at": step.at} if step.at is not None and slot.repetition == 0 else {}),
        }
        event = await self._start(step.key, step.targets, slot, slot.index, trigger, step.note)
        slot.start = event.start
        if not event.applied:
            self.tape.save()

    async def _start(
        self,
        key: str,
        targets: Targets | None,
        slot: Slot | None,
        index: int,
        trigger: dict[str, object],
        note: str | None,
    ) -> TapeEvent:
        select = targets if targets is not None else self.faults.default_targets(key)
        resolved = resolve(select, self.faults.ids, self.faults.rng(key), self.watch)
        ident = len(self.tape.events) + 1
        name, options = _split(key)
        event = TapeEvent(
            id=ident,
            step=None if slot is None else index,
            repetition=0 if slot is None else slot.repetition,
            nemesis=name,
            options=options,
            select=select,
            nodes=list(resolved.nodes),
            roles=self._roles(resolved.nodes),
            fallback=resolved.fallback,
            trigger=trigger,
            start=0.0,
            note=note,
            requested=_r(self.now()),
        )
        self.tape.events.append(event)
        event.fault_id = await self.faults.start(
            key, list(resolved.nodes), ident, event.roles, event.fallback
        )
        event.start = _r(self.now())
        if event.applied:
            self._active[id(slot) if slot is not None else -ident] = event
            self.tape.save()
        return event

    async def _stop(self, ident: int, *, cut_short: bool) -> None:
        event = self._active.pop(ident)
        event.stop_requested = _r(self.now())
        try:
            if event.fault_id is not None:
                await self.faults.stop(event.fault_id)
        finally:
            event.end = _r(self.now())
            event.cut_short = cut_short
            self.tape.save()

    def _roles(self, nodes: tuple[str, ...]) -> dict[str, str]:
        seen = self.leaders.roles()
        out = {}
        for node in nodes:
            if node == self.watch.current:
                out[node] = "leader"
            elif node == self.watch.previous:
                out[node] = "old-leader"
            else:
                out[node] = seen.get(node, "unknown")
        return out


def _split(key: str) -> tuple[str, dict[str, str]]:
    """``partition:mode=hang`` -> ``("partition", {"mode": "hang"})``."""
    name, _, rest = key.partition(":")
    options = {}
    for item in rest.split(";") if rest else []:
        k, _, v = item.partition("=")
        options[k] = v
    return name, options


def _skipped(slot: Slot, reason: str) -> dict[str, object]:
    return {
        "step": slot.index,
        "repetition": slot.repetition,
        "nemesis": slot.step.nemesis,
        "reason": reason,
    }


def _r(value: float | None) -> float:
    return round(value, 3) if value is not None else 0.0
