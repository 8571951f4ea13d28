"""A whole Raft cluster in memory: simulated network, crashes, clocks and clients.

``RaftSim(seed, profile).run()`` drives ``RaftCore`` instances through a random fault
schedule (drop, delay, reorder, duplicate, cut, isolate, partition, heal, crash and
restart from the persisted state, clock jumps and rate changes) with clients issuing
puts and gets, then heals everything and waits for the cluster to settle. Checkers
run as it goes and at the end; each reports a ``Violation`` naming the property:

- ``election-safety``: at most one leader per term, over the whole run (5.2);
- ``log-matching``: same index and term means the same prefix (5.3);
- ``state-machine-safety``: an index once committed never holds another entry (5.4);
- ``lost-ack``: every acknowledged write is in the final committed log;
- ``linearizable-read``: a read never returns a value older than a write that was
  acknowledged before the read was invoked, nor one that was never committed;
- ``liveness``: once a majority can talk, one leader emerges and every node in that
  majority follows it within ``profile.settle_ticks`` ticks.

One seed gives one run, exactly: every random choice comes from ``random.Random(seed)``.

A crash is a power loss: a node restarts from what it persisted. Correct Raft persists
before it sends, so a crash loses nothing it acknowledged; with the planted bug
``ack-before-fsync`` a node's log reaches the disk only every ``profile.sync_ticks``
ticks, and a crash loses what it appended (and acknowledged) since.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from chaoskit.targets._sim import SimNetwork, Violation
from chaoskit.targets.raft._core import Entry, HardState, Message, RaftConfig, RaftCore, Reply

FAULTS: tuple[str, ...] = ("partition", "isolate", "cut", "heal", "crash", "restart", "clock")


@dataclass(frozen=True)
class Profile:
    """The knobs of one simulated run; the defaults are the safety-suite mix."""

    nodes: int = 3
    ticks: int = 150
    settle_ticks: int = 400
    election_ticks: int = 10
    heartbeat_ticks: int = 3
    drop: float = 0.03
    duplicate: float = 0.02
    max_delay: int = 3
    fault_rate: float = 0.05
    fault_weights: tuple[float, ...] = (3, 3, 2, 4, 2, 3, 2)
    op_rate: float = 0.4
    #: Nodes left cut off (not crashed) in the final phase: liveness of the majority.
    final_isolated: int = 0
    bug: str | None = None
    pre_vote: bool = False
    #: ``ack-before-fsync``: ticks between two syncs of a node's log.
    sync_ticks: int = 20


@dataclass
class SimResult:
    seed: int
    violations: list[Violation] = field(default_factory=list)
    settle_ticks: int | None = None
    leaders: int = 0
    acked_writes: int = 0
    ok_reads: int = 0
    committed: int = 0

    def broke(self, prop: str) -> bool:
        return any(v.property == prop for v in self.violations)


class RaftSim:
    """One deterministic run; see the module docstring."""

    def __init__(self, seed: int, profile: Profile | None = None) -> None:
        self.seed = seed
        self.p = profile or Profile()
        self.rng = random.Random(seed)
        self.ids = [f"n{i + 1}" for i in range(self.p.nodes)]
        self.cfg = RaftConfig(
            election_ticks=self.p.election_ticks,
            heartbeat_ticks=self.p.heartbeat_ticks,
            bug=self.p.bug,
            pre_vote=self.p.pre_vote,
        )
        self.net: SimNetwork[Message] = SimNetwork(
            random.Random(self.rng.getrandbits(64)),
            self.ids,
            drop=self.p.drop,
            duplicate=self.p.duplicate,
            max_delay=self.p.max_delay,
        )
        self.disk: dict[str, tuple[HardState | None, list[Entry]]] = {
            n: (None, []) for n in self.ids
        }
        #: ``ack-before-fsync``: a live node's log as written, ahead of its synced one.
        self.unsynced: dict[str, list[Entry]] = {}
        self.cores: dict[str, RaftCore | None] = {n: None for n in self.ids}
        self.rates = {n: self.rng.uniform(0.5, 1.5) for n in self.ids}
        self.clocks = {n: self.rng.uniform(0.0, 100.0) for n in self.ids}
        self.now = 0
        self.result = SimResult(seed)
        self._seen: set[str] = set()
        self._leaders: dict[int, str] = {}
        self._committed: dict[int, Entry] = {}
        self._checked: dict[str, int] = {n: 0 for n in self.ids}
        self._events = itertools.count()
        self._rids = itertools.count(1)
        self._values = itertools.count(1)
        self._outstanding: dict[int, tuple[dict[str, Any], int]] = {}
        self._acked: list[tuple[str, Any, int]] = []
        self._reads: list[tuple[str, Any, int]] = []
        for n in self.ids:
            self._boot(n)

    # -- the run ---------------------------------------------------------------------------

    def run(self) -> SimResult:
        for _ in range(self.p.ticks):
            self._nemesis()
            self._client()
            self.advance()
        self._final_phase()
        self.result.leaders = len(self._leaders)
        self.result.committed = len(self._committed)
        return self.result

    def advance(self) -> None:
        """One tick of every live node, then every message due."""
        self.now += 1
        live = [n for n in self.ids if self.cores[n] is not None]
        self.rng.shuffle(live)
        for n in live:
            core = self.cores[n]
            assert core is not None
            self.clocks[n] += self.cfg.tick_s * self.rates[n]
            core.tick(self.clocks[n])
            self._drain(n)
            if n in self.unsynced and self.now % self.p.sync_ticks == 0:
                self.disk[n] = (self.disk[n][0], self.unsynced.pop(n))
        for msg in self.net.due(self.now):
            core = self.cores[msg.dst]
            if core is not None:
                core.step(msg)
                self._drain(msg.dst)
        if self.now % 20 == 0:
            self._check_logs()

    def _boot(self, n: str) -> None:
        hard, log = self.disk[n]
        rng = random.Random(self.rng.getrandbits(64))
        self.cores[n] = RaftCore(n, self.ids, rng, self.cfg, hard, log)
        self._checked[n] = 0

    def _drain(self, n: str) -> None:
        core = self.cores[n]
        assert core is not None
        ready = core.ready()
        hard, durable = self.disk[n]
        if ready.log_from is not None:
            log = durable
            if self.p.bug == "ack-before-fsync":  # written now, synced later (``advance``)
                log = self.unsynced.setdefault(n, list(durable))
            del log[ready.log_from - 1 :]
            log.extend(ready.entries)
        self.disk[n] = (ready.hard_state or hard, durable)
        for msg in ready.messages:
            self.net.send(msg, self.now)
        for reply in ready.replies:
            self._on_reply(reply)
        self._observe(n, core)

    # -- faults and clients ----------------------------------------------------------------

    def _nemesis(self) -> None:
        if self.rng.random() >= self.p.fault_rate:
            return
        fault = self.rng.choices(FAULTS, weights=self.p.fault_weights)[0]
        if fault == "partition":
            nodes = list(self.ids)
            self.rng.shuffle(nodes)
            k = self.rng.randint(1, len(nodes) - 1)
            self.net.partition([nodes[:k], nodes[k:]])
        elif fault == "isolate":
            self.net.isolate(self.rng.choice(self.ids))
        elif fault == "cut":
            a, b = self.rng.sample(self.ids, 2)
            self.net.cut(a, b)
        elif fault == "heal":
            self.net.heal()
        elif fault == "crash":
            live = [n for n in self.ids if self.cores[n] is not None]
            if live:
                victim = self.rng.choice(live)
                self.cores[victim] = None
                self.unsynced.pop(victim, None)  # the power went with it
        elif fault == "clock":
            n = self.rng.choice(self.ids)
            self.rates[n] = self.rng.choice((0.05, 0.3, 1.0, 2.0))
            self.clocks[n] -= self.rng.uniform(0.0, 1.0)
        else:
            down = [n for n in self.ids if self.cores[n] is None]
            if down:
                self._boot(self.rng.choice(down))

    def _client(self) -> None:
        if self.rng.random() >= self.p.op_rate:
            return
        live = [n for n in self.ids if self.cores[n] is not None]
        if not live:
            return
        n = self.rng.choice(live)
        key = self.rng.choice(("a", "b"))
        op: dict[str, Any]
        if self.rng.random() < 0.5:
            op = {"f": "put", "key": key, "value": next(self._values)}
        else:
            op = {"f": "get", "key": key}
        rid = next(self._rids)
        self._outstanding[rid] = (op, next(self._events))
        core = self.cores[n]
        assert core is not None
        core.request(rid, op)
        self._drain(n)

    def _on_reply(self, reply: Reply) -> None:
        op, invoked = self._outstanding.pop(reply.rid, (None, 0))
        if op is None or reply.kind != "ok":
            return
        if op["f"] == "put":
            self._acked.append((op["key"], op["value"], next(self._events)))
            self.result.acked_writes += 1
        else:
            self._reads.append((op["key"], reply.value, invoked))
            self.result.ok_reads += 1

    # -- checkers --------------------------------------------------------------------------

    def _violate(self, prop: str, detail: str) -> None:
        if prop not in self._seen:
            self._seen.add(prop)
            self.result.violations.append(Violation(prop, self.now, detail))

    def _observe(self, n: str, core: RaftCore) -> None:
        if core.role == "leader":
            first = self._leaders.setdefault(core.term, n)
            if first != n:
                self._violate("election-safety", f"term {core.term}: {first} and {n} lead")
        commit = min(core.commit, core.last_index)
        for i in range(self._checked[n] + 1, commit + 1):
            entry = core.log[i - 1]
            known = self._committed.setdefault(i, entry)
            if known != entry:
                self._violate("state-machine-safety", f"{n} committed {entry} at {i}, was {known}")
        self._checked[n] = max(self._checked[n], commit)

    def _logs(self) -> dict[str, list[Entry]]:
        return {
            n: (core.log if core is not None else self.disk[n][1]) for n, core in self.cores.items()
        }

    def _check_logs(self) -> None:
        logs = list(self._logs().items())
        for (a, la), (b, lb) in itertools.combinations(logs, 2):
            i = min(len(la), len(lb))
            while i > 0 and la[i - 1].term != lb[i - 1].term:
                i -= 1
            if la[:i] != lb[:i]:
                self._violate("log-matching", f"{a} and {b} agree on term at {i}, differ before")

    def _final_phase(self) -> None:
        """Heal (but keep ``final_isolated`` nodes cut off) and wait for one leader."""
        self.net.heal()
        self.net.drop = 0.0
        self.net.duplicate = 0.0
        for n in self.ids:
            if self.cores[n] is None:
                self._boot(n)
        group = list(self.ids)
        for n in self.rng.sample(self.ids, self.p.final_isolated):
            self.net.isolate(n)
            group.remove(n)
        start = self.now
        while self.now - start < self.p.settle_ticks:
            self.advance()
            if self._stable(group):
                self.result.settle_ticks = self.now - start
                break
        else:
            self._violate("liveness", f"no stable leader among {group} after the final heal")
            return
        self._check_logs()
        leader = next(c for n in group if (c := self.cores[n]) and c.role == "leader")
        self._check_clients(leader.log[: leader.commit])

    def _stable(self, group: list[str]) -> bool:
        cores = [c for n in group if (c := self.cores[n]) is not None]
        leaders = [c for c in cores if c.role == "leader"]
        if len(leaders) != 1:
            return False
        lead = leaders[0]
        if lead.commit != lead.last_index or lead.term_at(lead.commit) != lead.term:
            return False
        return all(
            c.term == lead.term and c.leader == lead.id and c.commit == lead.commit for c in cores
        )

    def _check_clients(self, final: list[Entry]) -> None:
        index_of: dict[tuple[str, Any], int] = {}
        for i, entry in enumerate(final, start=1):
            if entry.op["f"] == "put":
                index_of[(entry.op["key"], entry.op["value"])] = i
        for key, value, _ in self._acked:
            if (key, value) not in index_of:
                self._violate("lost-ack", f"acknowledged put {key}={value} is not committed")
        for key, value, invoked in self._reads:
            seen = 0 if value is None else index_of.get((key, value))
            if seen is None:
                self._violate("linearizable-read", f"read {key}={value}: never committed")
                continue
            floor = max(
                (
                    index_of.get((k, v), 0)
                    for k, v, acked in self._acked
                    if k == key and acked < invoked
                ),
                default=0,
            )
            if seen < floor:
                self._violate(
                    "linearizable-read",
                    f"read {key}={value} (index {seen}) after a put at index {floor} was acked",
                )
