"""Leader election by Paxos with leases, as a pure state machine.

Every node is a proposer and an acceptor. A proposer that has heard no leader for
its (randomized) election timeout proposes itself with a fresh ballot
``round * 100 + rank`` (unique per node, totally ordered): phase 1 ``prepare`` ->
``promise`` from a majority, phase 2 ``accept`` -> ``accepted`` from a majority, and
it leads that ballot. It renews leadership with a new ``accept`` round (a heartbeat)
every few ticks; a ``nack`` naming a higher ballot deposes it.

Leadership is a lease, so that at most one node claims it at any instant (the
``strict`` split-brain policy): the leader's lease runs ``lease_s`` from the moment
it *sent* the last renewal a majority accepted, and an acceptor that accepted a
ballot refuses to promise any other for ``guard_s`` (> ``lease_s``) from the moment it
*received* it. A new leader therefore needs a majority whose guards expired, after
the old lease did. Leases are timed by ``now``, the monotonic time the shell passes
in, never by counting ticks: a paused process misses ticks, not time. Acceptors
persist ``promised`` and ``accepted`` before answering, and a restarted acceptor
promises nothing for ``guard_s`` (it may have forgotten a lease it granted).

Like the Raft core: no sockets, no ``time``, no ``random`` (an injected
``random.Random`` jitters timeouts). Planted bugs (``bug=``):

- ``tick-lease``: the leader times its lease in ticks and, trusting it, brushes off
  higher ballots until it runs out; after a pause longer than the lease it wakes up
  and keeps claiming leadership for a whole lease while another node leads.
- ``forget-promise``: the acceptor keeps ``promised``/``accepted`` in memory only and
  skips the restart guard, so after a crash it promises what it had refused.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["follower", "candidate", "leader"]
MessageType = Literal["prepare", "promise", "accept", "accepted", "nack"]
MESSAGE_TYPES: tuple[MessageType, ...] = ("prepare", "promise", "accept", "accepted", "nack")
BUGS: tuple[str, ...] = ("tick-lease", "forget-promise")
#: Ballot = round * RANKS + rank, so ranks (node numbers) must stay below it.
RANKS = 100


@dataclass(frozen=True, slots=True)
class PaxosMessage:
    """``ballot`` is the ballot concerned; ``seq`` numbers a leader's renewal rounds;
    ``higher`` (in a nack) is the ballot the acceptor is bound to."""

    type: MessageType
    src: str
    dst: str
    ballot: int
    seq: int = 0
    higher: int = 0


@dataclass(frozen=True, slots=True)
class Durable:
    """What an acceptor must not forget: written (fsynced) before it answers."""

    promised: int = 0
    accepted: int = 0


@dataclass(frozen=True, slots=True)
class PaxosConfig:
    tick_s: float = 0.01
    heartbeat_ticks: int = 4
    election_ticks: int = 40
    lease_ticks: int = 15
    #: An acceptor's guard is this many leases: margin for scheduling and observation.
    guard_leases: float = 2.0
    bug: str | None = None

    @property
    def lease_s(self) -> float:
        return self.lease_ticks * self.tick_s

    @property
    def guard_s(self) -> float:
        return self.guard_leases * self.lease_s


@dataclass(slots=True)
class _Round:
    sent_at: float
    sent_tick: int
    acks: set[str]


def ballot_rank(ballot: int) -> int:
    return ballot % RANKS


class PaxosCore:
    """One node; ``ranks`` maps every node id (this one included) to its rank."""

    def __init__(
        self,
        node_id: str,
        ranks: Mapping[str, int],
        rng: random.Random,
        now: float,
        config: PaxosConfig | None = None,
        durable: Durable | None = None,
    ) -> None:
        if len(set(ranks.values())) != len(ranks) or not all(0 < r < RANKS for r in ranks.values()):
            raise ValueError(f"paxos ranks must be unique and between 1 and {RANKS - 1}")
        self.id = node_id
        self.rank = ranks[node_id]
        self.by_rank = {r: n for n, r in ranks.items()}
        self.peers = tuple(sorted(p for p in ranks if p != node_id))
        self.quorum = len(ranks) // 2 + 1
        self.cfg = config or PaxosConfig()
        self._rng = rng
        restored = durable if durable is not None and self.cfg.bug != "forget-promise" else None
        self.durable = restored or Durable()
        #: Set when ``durable`` changed: the shell must persist it before sending.
        self.dirty = False
        self.role: Role = "follower"
        self.leader: str | None = None
        self.ballot = 0
        self.seen = max(self.durable.promised, self.durable.accepted)
        self.ticks = 0
        self._elapsed = 0
        self._timeout = self._election_timeout()
        self._votes: set[str] = set()
        #: Open accept rounds: seq -> (sent at, sent at tick, who accepted). Several stay
        #: open so that a round-trip longer than the heartbeat still renews the lease.
        self._rounds: dict[int, _Round] = {}
        self._seq = 0
        self.lease_end = 0.0
        self._lease_end_tick = 0
        #: Until then this acceptor promises nothing (a lease it granted may be running).
        self._guard_until = now + self.cfg.guard_s if self.cfg.bug != "forget-promise" else now
        self._out: list[PaxosMessage] = []
        self._events: list[tuple[str, int]] = []

    # -- what the shell asks -------------------------------------------------------------

    def status(self, now: float) -> dict[str, Any]:
        """The node's answer to "role, term, leader?" at ``now`` (the lease decides)."""
        leading = self.is_leader(now)
        role: Role = (
            "leader" if leading else ("candidate" if self.role == "candidate" else "follower")
        )
        leader = self.id if leading else (self.leader if self.role == "follower" else None)
        term = self.ballot if leading else self.seen
        return {"node": self.id, "role": role, "term": term, "leader": leader}

    def is_leader(self, now: float) -> bool:
        if self.role != "leader":
            return False
        if self.cfg.bug == "tick-lease":
            return self.ticks < self._lease_end_tick
        return now < self.lease_end

    def ready(self) -> list[PaxosMessage]:
        """Drain the messages to send (persist ``durable`` first when ``dirty``)."""
        out, self._out = self._out, []
        return out

    def events(self) -> list[tuple[str, int]]:
        """Drain the quorums this node formed: ``("promised" | "accepted", ballot)``.

        Only the simulation reads them, to check Paxos's invariant across nodes.
        """
        out, self._events = self._events, []
        return out

    # -- inputs ---------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        self.ticks += 1
        self._elapsed += 1
        if self.role == "leader":
            if not self.is_leader(now):
                self._step_down()
            elif self._elapsed >= self.cfg.heartbeat_ticks:
                self._renew(now)
        elif self._elapsed >= self._timeout:
            self._campaign(now)

    def step(self, msg: PaxosMessage, now: float) -> None:
        if msg.src not in self.peers or msg.dst != self.id:
            return
        if self._trusts_lease(msg, now):
            return
        self.seen = max(self.seen, msg.ballot, msg.higher)
        handler = {
            "prepare": self._on_prepare,
            "promise": self._on_promise,
            "accept": self._on_accept,
            "accepted": self._on_accepted,
            "nack": self._on_nack,
        }[msg.type]
        handler(msg, now)

    def _trusts_lease(self, msg: PaxosMessage, now: float) -> bool:
        """Bug ``tick-lease``: a leader sure of its (tick-timed) lease brushes off rivals."""
        if self.cfg.bug != "tick-lease" or not self.is_leader(now):
            return False
        if msg.type in ("prepare", "accept") and msg.ballot > self.ballot:
            self._send("nack", msg.src, msg.ballot, msg.seq, higher=self.ballot)
            return True
        return msg.type == "nack"

    # -- acceptor -------------------------------------------------------------------------

    def _can_promise(self, ballot: int, src: str, now: float) -> bool:
        d = self.durable
        if ballot <= d.promised:
            return False
        holder = self.by_rank.get(ballot_rank(d.accepted)) if d.accepted else None
        return now >= self._guard_until or holder == src

    def _on_prepare(self, msg: PaxosMessage, now: float) -> None:
        if not self._can_promise(msg.ballot, msg.src, now):
            self._send("nack", msg.src, msg.ballot, higher=max(self.durable.promised, self.seen))
            return
        self._persist(promised=msg.ballot)
        if self.role != "follower" and self.ballot < msg.ballot:
            self._step_down()
        self._send("promise", msg.src, msg.ballot)

    def _on_accept(self, msg: PaxosMessage, now: float) -> None:
        if msg.ballot < self.durable.promised:
            self._send("nack", msg.src, msg.ballot, msg.seq, higher=self.durable.promised)
            return
        if self.role != "follower" and self.ballot < msg.ballot:
            self._step_down()
        self._persist(promised=msg.ballot, accepted=msg.ballot)
        self._guard_until = max(self._guard_until, now + self.cfg.guard_s)
        if self.role == "follower":
            self.leader = msg.src
            self._elapsed = 0
        self._send("accepted", msg.src, msg.ballot, msg.seq)

    # -- proposer -------------------------------------------------------------------------

    def _campaign(self, now: float) -> None:
        """Propose this node with a ballot above every ballot it has seen."""
        self._elapsed = 0
        self._timeout = self._election_timeout()
        ballot = (self.seen // RANKS + 1) * RANKS + self.rank
        if not self._can_promise(ballot, self.id, now):
            return  # this node's own acceptor still guards another leader's lease
        self.role, self.leader, self.ballot = "candidate", None, ballot
        self.seen = ballot
        self._persist(promised=ballot)
        self._votes = {self.id}
        for peer in self.peers:
            self._send("prepare", peer, ballot)
        if self.quorum == 1:
            self._events.append(("promised", ballot))
            self._renew(now)

    def _on_promise(self, msg: PaxosMessage, now: float) -> None:
        if self.role != "candidate" or msg.ballot != self.ballot or self._rounds:
            return
        self._votes.add(msg.src)
        if len(self._votes) == self.quorum:
            self._events.append(("promised", self.ballot))
            self._renew(now)

    def _renew(self, now: float) -> None:
        """Phase 2 (first time) or a heartbeat: a new accept round for this ballot."""
        if self.durable.promised > self.ballot:
            self._step_down()
            return
        self._elapsed = 0
        self._seq += 1
        self._persist(promised=self.ballot, accepted=self.ballot)
        self._guard_until = max(self._guard_until, now + self.cfg.guard_s)
        self._rounds = {k: r for k, r in self._rounds.items() if r.sent_at + self.cfg.lease_s > now}
        self._rounds[self._seq] = _Round(now, self.ticks, {self.id})
        for peer in self.peers:
            self._send("accept", peer, self.ballot, self._seq)
        self._count_acks(self._seq)

    def _on_accepted(self, msg: PaxosMessage, now: float) -> None:
        if self.role == "follower" or msg.ballot != self.ballot or msg.seq not in self._rounds:
            return
        self._rounds[msg.seq].acks.add(msg.src)
        self._count_acks(msg.seq)

    def _count_acks(self, seq: int) -> None:
        """A majority accepted round ``seq``: lead for a lease from when it was sent."""
        r = self._rounds[seq]
        if len(r.acks) != self.quorum:
            return
        if r.sent_at + self.cfg.lease_s <= self.lease_end and self.role == "leader":
            return
        self.role, self.leader = "leader", self.id
        self.lease_end = r.sent_at + self.cfg.lease_s
        self._lease_end_tick = r.sent_tick + self.cfg.lease_ticks
        self._events.append(("accepted", self.ballot))

    def _on_nack(self, msg: PaxosMessage, now: float) -> None:
        if self.role != "follower" and msg.ballot == self.ballot and msg.higher > self.ballot:
            self._step_down()

    # -- helpers --------------------------------------------------------------------------

    def _step_down(self) -> None:
        self.role, self.leader = "follower", None
        self._votes, self._rounds = set(), {}
        self._elapsed = 0
        self._timeout = self._election_timeout()

    def _persist(self, promised: int, accepted: int | None = None) -> None:
        d = self.durable
        new = Durable(max(d.promised, promised), d.accepted if accepted is None else accepted)
        if new != d:
            self.durable, self.dirty = new, True

    def _election_timeout(self) -> int:
        t = self.cfg.election_ticks
        return self._rng.randint(t, 2 * t - 1)

    def _send(
        self, kind: MessageType, dst: str, ballot: int, seq: int = 0, higher: int = 0
    ) -> None:
        self._out.append(PaxosMessage(kind, self.id, dst, ballot, seq, higher))
