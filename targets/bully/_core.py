"""The Bully election algorithm as a pure state machine, weakness included.

Every node has a unique numeric rank. A node that suspects the leader (no heartbeat
for a timeout) sends ELECTION to every higher-ranked node; any of them alive answers
OK and starts its own election; a node that hears no OK in time announces itself
with COORDINATOR, which the leader then repeats as its heartbeat. A higher-ranked
node that comes back bullies its way to the top.

The algorithm assumes a synchronous network: "no OK in time" is read as "everyone
higher is dead". A partition therefore gives each side its own leader; that is the
known weakness chaoskit's split-brain checker must catch, and it is left in on purpose.

``epoch`` (reported as ``term``) is the highest election number seen; a new leader
takes one more than it has seen, so after a heal the survivor re-announces above both.
Like the Raft core: no sockets, no ``time``, no ``random`` (timeouts are jittered by
an injected ``random.Random``).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["follower", "candidate", "leader"]
MessageType = Literal["election", "ok", "coordinator"]
MESSAGE_TYPES: tuple[MessageType, ...] = ("election", "ok", "coordinator")


@dataclass(frozen=True, slots=True)
class BullyMessage:
    type: MessageType
    src: str
    dst: str
    epoch: int


@dataclass(frozen=True, slots=True)
class BullyConfig:
    heartbeat_ticks: int = 5
    leader_timeout_ticks: int = 15
    answer_ticks: int = 5
    coordinator_ticks: int = 15


class BullyCore:
    """One Bully node; ``ranks`` maps every node id (this one included) to its rank."""

    def __init__(
        self,
        node_id: str,
        ranks: Mapping[str, int],
        rng: random.Random,
        config: BullyConfig | None = None,
    ) -> None:
        if len(set(ranks.values())) != len(ranks):
            raise ValueError("bully ranks must be unique")
        self.id = node_id
        self.ranks = dict(ranks)
        self.rank = ranks[node_id]
        self.peers = tuple(sorted(p for p in ranks if p != node_id))
        self.cfg = config or BullyConfig()
        self._rng = rng
        self.role: Role = "follower"
        self.leader: str | None = None
        self.epoch = 0
        self._elapsed = 0
        self._timeout = 0
        self._got_ok = False
        self._out: list[BullyMessage] = []
        self._start_election()  # a node that (re)starts bullies its way in

    def status(self) -> dict[str, Any]:
        return {"node": self.id, "role": self.role, "term": self.epoch, "leader": self.leader}

    def ready(self) -> list[BullyMessage]:
        """Drain the messages to send."""
        out, self._out = self._out, []
        return out

    def tick(self, now: float = 0.0) -> None:
        self._elapsed += 1
        if self.role == "leader":
            if self._elapsed >= self.cfg.heartbeat_ticks:
                self._announce()
        elif self.role == "candidate":
            if not self._got_ok and self._elapsed >= self.cfg.answer_ticks:
                self._become_leader()
            elif self._elapsed >= self.cfg.answer_ticks + self.cfg.coordinator_ticks:
                self._start_election()  # a higher node said OK but never took over
        elif self._elapsed >= self._timeout:
            self._start_election()

    def step(self, msg: BullyMessage) -> None:
        if msg.src not in self.ranks or msg.src == self.id:
            return
        higher_epoch = msg.epoch > self.epoch
        self.epoch = max(self.epoch, msg.epoch)
        if msg.type == "election":
            self._on_election(msg)
        elif msg.type == "ok":
            if self.role == "candidate":
                self._got_ok = True
        else:
            self._on_coordinator(msg)
        if higher_epoch and self.role == "leader":
            self._become_leader()  # re-announce above the epoch just learnt

    def _on_election(self, msg: BullyMessage) -> None:
        if self.ranks[msg.src] > self.rank:
            return  # elections only go upwards
        self._send("ok", msg.src)
        if self.role == "leader":
            self._send("coordinator", msg.src)
        elif self.role == "follower":
            self._start_election()

    def _on_coordinator(self, msg: BullyMessage) -> None:
        if self.ranks[msg.src] > self.rank:
            if msg.epoch < self.epoch:
                self._send("ok", msg.src)  # tell a restarted leader the epoch it missed
            self.role = "follower"
            self.leader = msg.src
            self._elapsed = 0
            self._timeout = self._leader_timeout()
        elif self.role == "leader":
            self._send("coordinator", msg.src)  # bully the lower node back in line
        elif self.role == "follower":
            self._start_election()

    def _start_election(self) -> None:
        self.role = "candidate"
        self.leader = None
        self._got_ok = False
        self._elapsed = 0
        higher = [p for p in self.peers if self.ranks[p] > self.rank]
        if not higher:
            self._become_leader()
            return
        for peer in higher:
            self._send("election", peer)

    def _become_leader(self) -> None:
        self.epoch += 1
        self.role = "leader"
        self.leader = self.id
        self._announce()

    def _announce(self) -> None:
        self._elapsed = 0
        for peer in self.peers:
            self._send("coordinator", peer)

    def _leader_timeout(self) -> int:
        t = self.cfg.leader_timeout_ticks
        return self._rng.randint(t, 2 * t - 1)

    def _send(self, kind: MessageType, dst: str) -> None:
        self._out.append(BullyMessage(kind, self.id, dst, self.epoch))


def rank_of(node_id: str) -> int:
    """The rank of ``n3`` is 3: the trailing digits of the id."""
    digits = ""
    for ch in reversed(node_id):
        if not ch.isdigit():
            break
        digits = ch + digits
    if not digits:
        raise ValueError(f"bully node id {node_id!r} must end in a number (its rank)")
    return int(digits)
