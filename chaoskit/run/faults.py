"""The faults of a run: which are active, their log, and healing them all.

The fault book is what the scenario engine (``chaoskit.scenario.engine``) acts through:
it applies a nemesis's fault to the node ids the engine resolved, and heals it by id.
Every fault a nemesis starts gets an id and a ``start`` record in ``nemesis.jsonl``
(with the tape event that asked for it); its ``stop`` record is written whatever
healing it does (an error included), so the fault log has a stop for every start.
Each nemesis draws from its own random generator, derived from the run's seed and the
nemesis key, so the victims of one nemesis do not depend on what the others drew.
Several faults of one nemesis may be active at once (a scenario may isolate two nodes
in two steps).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
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
        #: Active faults by fault id.
        self.active: dict[int, ActiveFault] = {}
        self.started = 0
        self._next_id = 1
        self._rngs: dict[str, random.Random] = {}

    @property
    def ids(self) -> list[str]:
        return [n.id for n in self.cluster.nodes]

    def rng(self, key: str) -> random.Random:
        """The seeded generator of nemesis ``key``: victims and its own draws."""
        return self._rngs.setdefault(key, nemesis_rng(self.seed, key))

    def default_targets(self, key: str) -> str:
        return self.nemeses[key].default_targets

    def context(self, key: str) -> NemesisContext:
        """What the nemesis ``key`` may touch, with its own seeded generator."""
        c = self.cluster
        assert c.runtime is not None and c.network is not None
        return NemesisContext(
            nodes=c.nodes,
            rng=self.rng(key),
            runtime=c.runtime,
            network=c.network,
            clock=c.clock,
            disk=c.disk,
        )

    async def start(
        self,
        key: str,
        targets: Sequence[str],
        event: int | None = None,
        roles: Mapping[str, str] | None = None,
        fallback: bool = False,
    ) -> int | None:
        """Apply one fault of nemesis ``key`` to ``targets``; its id (None: nothing done).

        ``roles``: what each target was when it was chosen (``leader``, ``follower``);
        ``fallback``: a role was asked for that nobody held, so a random node stood in.
        Both go into the log, so that it says whom a leader-aimed fault hit."""
        self.started += 1
        fault = await self.nemeses[key].start(self.context(key), list(targets))
        if fault is None:
            return None
        active = ActiveFault(self._next_id, key, fault)
        self._next_id += 1
        self.active[active.id] = active
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
                "targets": list(targets),
                "roles": dict(roles or {}),
                "fallback": fallback,
                "event": event,
            }
        )
        return active.id

    async def stop(self, fault_id: int) -> None:
        """Heal the active fault ``fault_id``, if any; its stop is always logged."""
        active = self.active.pop(fault_id, None)
        if active is None:
            return
        try:
            await self.nemeses[active.key].stop(self.context(active.key), active.fault)
        finally:
            self.log.write(
                {
                    "time": self.clock.now(),
                    "type": "stop",
                    "id": active.id,
                    "fault": active.fault.fault,
                    "nemesis": active.key,
                }
            )
        if self.after_heal is not None:
            await self.after_heal()

    async def stop_all(self, warn: Callable[[str], None]) -> None:
        """Stop every active fault; one that fails to heal is reported, the rest go on."""
        for fault_id, active in list(self.active.items()):
            try:
                await self.stop(fault_id)
            except Exception as exc:  # noqa: BLE001 - keep healing the rest
                warn(f"healing {active.key}#{fault_id} failed: {exc}")

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
