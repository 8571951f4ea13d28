"""The faults of a run: which are active, their log, and healing them all.

Every fault a nemesis starts gets an id and a ``start`` record in ``nemesis.jsonl``;
its ``stop`` record is written whatever healing it does (an error included), so the
fault log has a stop for every start. Each nemesis draws from its own random
generator, derived from the run's seed and the nemesis key, so the victims of one
nemesis do not depend on what the others drew.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from chaoskit.core.nemesis import Fault, Nemesis, NemesisContext
from chaoskit.run.launch import Cluster
from chaoskit.run.schedule import nemesis_rng
from chaoskit.store.streams import JsonlWriter, RunClock


@dataclass
class ActiveFault:
    """A fault started and not yet healed."""

    id: int
    key: str
    fault: Fault


class FaultBook:
    """Starts and stops the faults of the run's nemeses, and logs both."""

    def __init__(
        self,
        nemeses: dict[str, Nemesis],
        cluster: Cluster,
        log: JsonlWriter,
        clock: RunClock,
        seed: int,
        after_heal: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.nemeses = nemeses
        self.cluster = cluster
        self.log = log
        self.clock = clock
        self.seed = seed
        #: Called after every heal: the audit of the fault API (foreign changes).
        self.after_heal = after_heal
        self.active: dict[str, ActiveFault] = {}
        self.started = 0
        self._next_id = 1
        self._rngs: dict[str, random.Random] = {}

    def context(self, key: str) -> NemesisContext:
        """What the nemesis ``key`` may touch, with its own seeded generator."""
        c = self.cluster
        assert c.runtime is not None and c.network is not None and c.observer is not None
        return NemesisContext(
            nodes=c.nodes,
            rng=self._rngs.setdefault(key, nemesis_rng(self.seed, key)),
            runtime=c.runtime,
            network=c.network,
            leader=c.observer,
            clock=c.clock,
            disk=c.disk,
        )

    async def start(self, key: str) -> ActiveFault | None:
        """Start one fault of nemesis ``key`` (nothing when one is active already)."""
        if key in self.active:
            return self.active[key]
        self.started += 1
        fault = await self.nemeses[key].start(self.context(key))
        if fault is None:
            return None
        active = ActiveFault(self._next_id, key, fault)
        self._next_id += 1
        self.active[key] = active
        self.log.write(
            {
                "time": self.clock.now(),
                "type": "start",
                "id": active.id,
                "fault": fault.fault,
                "nemesis": key,
                "detail": fault.detail,
                "down": sorted(fault.down),
                "cut": [list(link) for link in fault.cut],
            }
        )
        return active

    async def stop(self, key: str) -> None:
        """Heal the active fault of nemesis ``key``, if any; its stop is always logged."""
        active = self.active.pop(key, None)
        if active is None:
            return
        try:
            await self.nemeses[key].stop(self.context(key), active.fault)
        finally:
            self.log.write(
                {
                    "time": self.clock.now(),
                    "type": "stop",
                    "id": active.id,
                    "fault": active.fault.fault,
                    "nemesis": key,
                }
            )
        if self.after_heal is not None:
            await self.after_heal()

    async def stop_all(self, warn: Callable[[str], None]) -> None:
        """Stop every active fault; one that fails to heal is reported, the rest go on."""
        for key in list(self.active):
            try:
                await self.stop(key)
            except Exception as exc:  # noqa: BLE001 - keep healing the rest
                warn(f"healing {key} failed: {exc}")

    async def heal_everything(self, warn: Callable[[str], None]) -> None:
        """Stop every fault, then undo anything a nemesis may have missed: links,
        clocks, paused or dead nodes."""
        await self.stop_all(warn)
        c = self.cluster
        if c.network is not None:
            await c.network.heal_all()
            if self.after_heal is not None:
                await self.after_heal()
        if c.clock is not None:
            c.clock.reset()
        if c.runtime is not None:
            for node in c.nodes:
                await c.runtime.resume(node.id)
                if not c.runtime.is_running(node.id):
                    await c.runtime.start(node.id)
        if c.clock is not None:
            # A clock on other machines (SSH hosts) applies the resets a round trip
            # later: they are in effect before the final phase begins.
            await c.clock.settle()
