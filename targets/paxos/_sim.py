"""A whole Paxos-election cluster in memory: simulated network, crashes and pauses.

``PaxosSim(seed, profile).run()`` drives ``PaxosCore`` instances on the shared
``SimNetwork`` (drop, delay, reorder, duplicate, cut, isolate, partition, heal)
through a random fault schedule that also crashes nodes (restarted from what they
persisted), pauses them (no ticks, no messages, while time runs on) and gives each
node a clock rate slightly off. Then it heals everything and waits for a leader.
Properties, each reported as a ``Violation``:

- ``lease-safety``: at no instant do two running nodes claim leadership (the
  ``strict`` split-brain rule; a paused node is checked again once it resumes);
- ``ballot-order``: a node becomes leader only with a ballot above that of every
  earlier leader (a deposed ballot never wins a majority again);
- ``liveness``: once every node is up and connected, one leader emerges and every
  other node follows it within ``profile.settle_ticks`` ticks.

One seed gives one run, exactly: every random choice comes from ``random.Random(seed)``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from chaoskit.targets._sim import SimNetwork, Violation
from chaoskit.targets.paxos._core import Durable, PaxosConfig, PaxosCore, PaxosMessage

FAULTS: tuple[str, ...] = ("partition", "isolate", "cut", "heal", "crash", "restart", "pause")


@dataclass(frozen=True)
class Profile:
    """The knobs of one simulated run."""

    nodes: int = 3
    ticks: int = 600
    settle_ticks: int = 600
    drop: float = 0.03
    duplicate: float = 0.02
    max_delay: int = 2
    fault_rate: float = 0.03
    fault_weights: tuple[float, ...] = (2, 3, 2, 4, 2, 3, 3)
    #: Longest pause, in ticks (longer than the guard, so a paused leader is replaced).
    max_pause: int = 120
    #: Clock rates are drawn from ``1 +- drift``.
    drift: float = 0.05
    bug: str | None = None


@dataclass
class SimResult:
    seed: int
    violations: list[Violation] = field(default_factory=list)
    settle_ticks: int | None = None
    leaderships: int = 0

    def broke(self, prop: str) -> bool:
        return any(v.property == prop for v in self.violations)


class PaxosSim:
    """One deterministic run; see the module docstring."""

    def __init__(self, seed: int, profile: Profile | None = None) -> None:
        self.p = profile or Profile()
        self.rng = random.Random(seed)
        self.ids = [f"n{i + 1}" for i in range(self.p.nodes)]
        self.ranks = {n: i + 1 for i, n in enumerate(self.ids)}
        self.cfg = PaxosConfig(bug=self.p.bug)
        self.net: SimNetwork[PaxosMessage] = SimNetwork(
            random.Random(self.rng.getrandbits(64)),
            self.ids,
            drop=self.p.drop,
            duplicate=self.p.duplicate,
            max_delay=self.p.max_delay,
        )
        self.rates = {n: self.rng.uniform(1 - self.p.drift, 1 + self.p.drift) for n in self.ids}
        self.clocks = {n: self.rng.uniform(0.0, 100.0) for n in self.ids}
        self.disk: dict[str, Durable] = {n: Durable() for n in self.ids}
        self.cores: dict[str, PaxosCore | None] = {n: None for n in self.ids}
        self.paused: dict[str, int] = {}
        self.now = 0
        self.result = SimResult(seed)
        self._top_leader_ballot = 0
        self._held: dict[str, int] = {}
        for n in self.ids:
            self._boot(n)

    def run(self) -> SimResult:
        for _ in range(self.p.ticks):
            self._nemesis()
            self.advance()
        self._final_phase()
        return self.result

    def advance(self) -> None:
        """One tick of every running node, every message due, then the checks."""
        self.now += 1
        for n, until in list(self.paused.items()):
            if until <= self.now:
                del self.paused[n]
        running = self.running()
        self.rng.shuffle(running)
        for n in self.ids:  # time runs on for paused and crashed nodes too
            self.clocks[n] += self.cfg.tick_s * self.rates[n]
        for n in running:
            self._core(n).tick(self.clocks[n])
            self._drain(n)
        self._check_leases()  # a resumed node may answer before it reads its mail
        for msg in self.net.due(self.now):
            core = self.cores[msg.dst]
            if core is None:
                continue
            if msg.dst in self.paused:
                self.net.send(msg, self.now)  # kernel buffers: delivered after the pause
                continue
            core.step(msg, self.clocks[msg.dst])
            self._drain(msg.dst)
        self._check_leases()

    def running(self) -> list[str]:
        return [n for n in self.ids if self.cores[n] is not None and n not in self.paused]

    def leaders(self) -> list[str]:
        return [n for n in self.running() if self._core(n).is_leader(self.clocks[n])]

    # -- faults -------------------------------------------------------------------------

    def _nemesis(self) -> None:
        if self.rng.random() >= self.p.fault_rate:
            return
        fault = self.rng.choices(FAULTS, weights=self.p.fault_weights)[0]
        victim = self.rng.choice(self.ids)
        if fault == "partition":
            shuffled = self.ids[:]
            self.rng.shuffle(shuffled)
            cut = self.rng.randint(1, len(shuffled) - 1)
            self.net.partition([shuffled[:cut], shuffled[cut:]])
        elif fault == "isolate":
            self.net.isolate(victim)
        elif fault == "cut":
            other = self.rng.choice([n for n in self.ids if n != victim])
            self.net.cut(victim, other)
        elif fault == "heal":
            self.net.heal()
        elif fault == "crash" and self.cores[victim] is not None:
            self.cores[victim] = None
            self.paused.pop(victim, None)
        elif fault == "restart" and self.cores[victim] is None:
            self._boot(victim)
        elif fault == "pause" and self.cores[victim] is not None:
            leaders = self.leaders()
            target = leaders[0] if leaders and self.rng.random() < 0.7 else victim
            self.paused[target] = self.now + self.rng.randint(1, self.p.max_pause)

    def _final_phase(self) -> None:
        self.net.heal()
        self.paused.clear()
        for n in self.ids:
            if self.cores[n] is None:
                self._boot(n)
        start = self.now
        while self.now - start < self.p.settle_ticks:
            self.advance()
            if self._settled():
                self.result.settle_ticks = self.now - start
                return
        self._violate("liveness", f"no agreed leader {self.p.settle_ticks} ticks after the heal")

    def _settled(self) -> bool:
        leaders = self.leaders()
        if len(leaders) != 1:
            return False
        return all(self._core(n).leader == leaders[0] for n in self.ids)

    # -- plumbing -----------------------------------------------------------------------

    def _boot(self, n: str) -> None:
        self.cores[n] = PaxosCore(
            n,
            self.ranks,
            random.Random(self.rng.getrandbits(64)),
            self.clocks[n],
            self.cfg,
            self.disk[n],
        )

    def _core(self, n: str) -> PaxosCore:
        core = self.cores[n]
        assert core is not None
        return core

    def _drain(self, n: str) -> None:
        core = self._core(n)
        if core.dirty:
            self.disk[n], core.dirty = core.durable, False
        for kind, ballot in core.events():
            if kind == "accepted" and self._held.get(n) != ballot:
                self._new_leadership(n, ballot)
        for msg in core.ready():
            self.net.send(msg, self.now)

    def _new_leadership(self, n: str, ballot: int) -> None:
        self._held[n] = ballot
        self.result.leaderships += 1
        if ballot < self._top_leader_ballot:
            self._violate(
                "ballot-order", f"{n} leads ballot {ballot} after ballot {self._top_leader_ballot}"
            )
        self._top_leader_ballot = max(self._top_leader_ballot, ballot)

    def _check_leases(self) -> None:
        leaders = self.leaders()
        if len(leaders) > 1:
            ballots = {n: self._core(n).ballot for n in leaders}
            self._violate("lease-safety", f"simultaneous leaders {ballots}")

    def _violate(self, prop: str, detail: str) -> None:
        if not self.result.broke(prop):
            self.result.violations.append(Violation(prop, self.now, detail))
