"""The Raft protocol as a pure state machine: messages and ticks in, messages and state out.

Nothing here touches a socket, a file, ``time`` or ``random``: the caller injects a
seeded ``random.Random`` (for election timeouts) and passes the node's wall clock into
``tick`` (read only by the planted ``lease-read`` bug). After every ``tick``, ``step``
or ``request`` the caller drains ``ready()`` and must persist its hard state and log
changes (fsync) *before* sending its messages or replies: that order is what lets a
node killed with SIGKILL keep Raft's safety. The same class runs in the asyncio shell
(``chaoskit.targets.raft._node``) and in the deterministic simulation
(``chaoskit.targets.raft._sim``).

Section numbers refer to the Raft paper (Ongaro and Ousterhout, 2014). With
``RaftConfig(pre_vote=True)`` a node whose election timer fires first asks whether it
could win (PreVote, Ongaro's thesis section 9.6) without raising its term, and a node
that heard from a leader less than an election timeout ago refuses: a node cut off
from the leader only one way can then no longer depose it again and again.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any, Literal

BUGS: tuple[str, ...] = (
    "double-vote",
    "forget-vote",
    "no-step-down",
    "stale-read",
    "early-ack",
    "lease-read",
    # The node shell's, not the core's: the log is written before acknowledging, but
    # fsynced only once a second (chaoskit.targets.raft._storage). The simulation
    # models it too (chaoskit.targets.raft._sim).
    "ack-before-fsync",
)

Role = Literal["follower", "candidate", "leader"]
ReplyKind = Literal["ok", "mismatch", "not_leader", "unknown"]
MessageType = Literal["vote", "vote_resp", "append", "append_resp", "prevote", "prevote_resp"]
MESSAGE_TYPES: tuple[MessageType, ...] = (
    "vote",
    "vote_resp",
    "append",
    "append_resp",
    "prevote",
    "prevote_resp",
)
WRITE_OPS: tuple[str, ...] = ("put", "cas", "add")
READ_OPS: tuple[str, ...] = ("get", "read-set")


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry: the term it was created in and the state-machine command."""

    term: int
    op: dict[str, Any]


@dataclass(frozen=True, slots=True)
class HardState:
    """What must survive a crash besides the log (section 5.1, figure 2)."""

    term: int
    voted_for: str | None


@dataclass(frozen=True, slots=True)
class Message:
    """A one-way message between two nodes; unused fields keep their defaults."""

    type: MessageType
    src: str
    dst: str
    term: int
    last_index: int = 0
    last_term: int = 0
    granted: bool = False
    prev_index: int = 0
    prev_term: int = 0
    entries: tuple[Entry, ...] = ()
    commit: int = 0
    round: int = 0
    success: bool = False
    index: int = 0
    hint: int = 0


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to client request ``rid``; ``index`` is the log index it concerns."""

    rid: int
    kind: ReplyKind
    value: Any = None
    leader: str | None = None
    index: int = 0


@dataclass(frozen=True, slots=True)
class RaftConfig:
    """Timing in ticks; ``tick_s`` only sizes the lease of the ``lease-read`` bug."""

    election_ticks: int = 15
    heartbeat_ticks: int = 5
    tick_s: float = 0.01
    max_batch: int = 64
    bug: str | None = None
    #: Ask before campaigning (thesis section 9.6); off by default: the paper's Raft.
    pre_vote: bool = False


@dataclass
class Ready:
    """What the caller must do after a call: persist, then send and answer."""

    hard_state: HardState | None = None
    log_from: int | None = None
    entries: list[Entry] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)


@dataclass(slots=True)
class _Read:
    rid: int
    op: dict[str, Any]
    index: int = -1
    round: int = -1


def canonical(value: Any) -> str:
    """JSON text used to compare values, so ``1``, ``1.0`` and ``true`` stay distinct."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class RaftCore:
    """One Raft node. Drive it with ``tick``, ``step`` and ``request``; drain ``ready``."""

    def __init__(
        self,
        node_id: str,
        peers: list[str] | tuple[str, ...],
        rng: random.Random,
        config: RaftConfig | None = None,
        hard: HardState | None = None,
        log: list[Entry] | None = None,
    ) -> None:
        self.id = node_id
        self.peers = tuple(sorted(p for p in peers if p != node_id))
        self.cfg = config or RaftConfig()
        self.bug = self.cfg.bug
        self._rng = rng
        self.term = hard.term if hard else 0
        self.voted_for = hard.voted_for if hard else None
        self.log: list[Entry] = list(log or [])
        self.role: Role = "follower"
        self.leader: str | None = None
        self.commit = 0
        self.applied = 0
        self.kv: dict[str, Any] = {}
        self.sets: dict[str, list[Any]] = {}
        self.now = 0.0
        self._elapsed = 0
        self._timeout = self._random_timeout()
        self._votes: dict[str, bool] = {}
        self._prevotes: set[str] | None = None
        self._next: dict[str, int] = {}
        self._match: dict[str, int] = {}
        self._acked_round: dict[str, int] = {}
        self._round = 0
        self._round_time: dict[int, float] = {}
        self._lease_until = float("-inf")
        self._pending: dict[int, tuple[int, int]] = {}
        self._reads: list[_Read] = []
        self._ready = Ready()
        self._hard_dirty = False

    # -- queries ---------------------------------------------------------------------------

    @property
    def majority(self) -> int:
        return (len(self.peers) + 1) // 2 + 1

    @property
    def last_index(self) -> int:
        return len(self.log)

    def term_at(self, index: int) -> int:
        """The term of entry ``index``; 0 before the log, -1 past its end."""
        if index == 0:
            return 0
        if index > len(self.log):
            return -1
        return self.log[index - 1].term

    def status(self) -> dict[str, Any]:
        """Role, term and leader as ``GET /status`` reports them."""
        return {
            "node": self.id,
            "role": self.role,
            "term": self.term,
            "leader": self.leader,
            "commit_index": self.commit,
            "last_log_index": self.last_index,
        }

    # -- inputs ----------------------------------------------------------------------------

    def tick(self, now: float = 0.0) -> None:
        """Advance logical time by one tick; ``now`` is the node's (untrusted) wall clock."""
        self.now = now
        self._elapsed += 1
        if self.role == "leader":
            if self._elapsed >= self.cfg.heartbeat_ticks:
                self._broadcast()
        elif self._elapsed >= self._timeout:
            if self.cfg.pre_vote:
                self._pre_campaign()
            else:
                self._campaign()

    def step(self, msg: Message) -> None:
        """Handle one message from a peer (section 5.1: terms first, then the type)."""
        if msg.type == "prevote":
            self._on_prevote(msg)  # carries a term nobody holds yet: never adopted
            return
        if msg.type == "prevote_resp" and msg.granted:
            self._on_prevote_granted(msg)
            return
        if msg.term > self.term:
            if self.role == "leader" and self.bug == "no-step-down":
                return
            self._become_follower(msg.term, msg.src if msg.type == "append" else None)
        elif msg.term < self.term:
            self._answer_stale(msg)
            return
        if msg.type == "vote":
            self._on_vote(msg)
        elif msg.type == "vote_resp":
            self._on_vote_resp(msg)
        elif msg.type == "append":
            self._on_append(msg)
        elif msg.type == "append_resp":
            self._on_append_resp(msg)

    def request(self, rid: int, op: dict[str, Any]) -> None:
        """A client operation; its ``Reply`` comes out of ``ready`` now or later."""
        if self.role != "leader":
            self._reply(rid, "not_leader", leader=self.leader)
            return
        if op["f"] in READ_OPS:
            self._request_read(rid, op)
            return
        index = self._append_local(op)
        if self.bug == "early-ack" and op["f"] in ("put", "add"):
            self._reply(rid, "ok", index=index)
        else:
            self._pending[index] = (self.term, rid)
        for peer in self.peers:
            self._send_append(peer)
        self._maybe_commit()

    def ready(self) -> Ready:
        """Drain the outputs accumulated since the last call."""
        out = self._ready
        if self._hard_dirty and self.bug != "forget-vote":
            out.hard_state = HardState(self.term, self.voted_for)
        if out.log_from is not None:
            out.entries = self.log[out.log_from - 1 :]
        self._hard_dirty = False
        self._ready = Ready()
        return out

    # -- elections (section 5.2) -----------------------------------------------------------

    def _random_timeout(self) -> int:
        e = self.cfg.election_ticks
        return self._rng.randint(e, 2 * e - 1)

    def _reset_timer(self) -> None:
        self._elapsed = 0
        self._timeout = self._random_timeout()

    def _pre_campaign(self) -> None:
        """Ask every peer whether it would vote for us in the next term (thesis 9.6)."""
        self.leader = None
        self._prevotes = {self.id}
        self._reset_timer()
        if self.majority == 1:
            self._campaign()
            return
        self._ask_votes("prevote", self.term + 1)

    def _on_prevote(self, msg: Message) -> None:
        """Would we vote? Only for a later term, an up-to-date log, and with no leader
        heard from within an election timeout (nothing here changes our state)."""
        heard_leader = self.role == "leader" or (
            self.leader is not None and self._elapsed < self.cfg.election_ticks
        )
        granted = msg.term > self.term and self._log_up_to_date(msg) and not heard_leader
        self._send(
            "prevote_resp", msg.src, term=msg.term if granted else self.term, granted=granted
        )

    def _on_prevote_granted(self, msg: Message) -> None:
        if self._prevotes is None or self.role == "leader" or msg.term != self.term + 1:
            return  # an answer to an earlier round, or we moved on
        self._prevotes.add(msg.src)
        if len(self._prevotes) >= self.majority:
            self._campaign()

    def _campaign(self) -> None:
        self._prevotes = None
        self._fail_pending()
        self.term += 1
        self.role = "candidate"
        self.voted_for = self.id
        self.leader = None
        self._hard_dirty = True
        self._votes = {self.id: True}
        self._reset_timer()
        if self.majority == 1:
            self._become_leader()
            return
        self._ask_votes("vote", self.term)

    def _ask_votes(self, kind: MessageType, term: int) -> None:
        """A (pre)vote request for ``term`` to every peer, with our last log position."""
        last = self.last_index
        for peer in self.peers:
            self._send(kind, peer, term=term, last_index=last, last_term=self.term_at(last))

    def _log_up_to_date(self, msg: Message) -> bool:
        """Is the candidate's log at least as up-to-date as ours (section 5.4.1)?"""
        return (msg.last_term, msg.last_index) >= (self.term_at(self.last_index), self.last_index)

    def _on_vote(self, msg: Message) -> None:
        free = self.voted_for in (None, msg.src) or self.bug == "double-vote"
        granted = self._log_up_to_date(msg) and free
        if granted:
            self.voted_for = msg.src
            self._hard_dirty = True
            self._reset_timer()
        self._send("vote_resp", msg.src, granted=granted)

    def _on_vote_resp(self, msg: Message) -> None:
        if self.role != "candidate":
            return
        self._votes[msg.src] = msg.granted
        if sum(self._votes.values()) >= self.majority:
            self._become_leader()

    def _become_follower(self, term: int, leader: str | None) -> None:
        self._prevotes = None
        if term > self.term:
            self.term = term
            self.voted_for = None
            self._hard_dirty = True
        if self.role != "follower":
            self._fail_pending()
        self.role = "follower"
        self.leader = leader
        self._reset_timer()

    def _become_leader(self) -> None:
        self.role = "leader"
        self.leader = self.id
        self._elapsed = 0
        self._next = {p: self.last_index + 1 for p in self.peers}
        self._match = {p: 0 for p in self.peers}
        self._acked_round = {p: 0 for p in self.peers}
        self._round = 0
        self._round_time = {}
        self._lease_until = float("-inf")
        # A no-op of the new term lets the leader commit, and serve reads (section 8).
        self._append_local({"f": "noop"})
        self._broadcast()
        self._maybe_commit()

    def _answer_stale(self, msg: Message) -> None:
        """Tell a node of an older term about ours, so that it steps down."""
        if msg.type == "vote":
            self._send("vote_resp", msg.src, granted=False)
        elif msg.type == "append":
            self._send("append_resp", msg.src, index=msg.prev_index, hint=self.last_index)

    # -- replication (section 5.3) ---------------------------------------------------------

    def _append_local(self, op: dict[str, Any]) -> int:
        self.log.append(Entry(self.term, op))
        self._log_changed(self.last_index)
        return self.last_index

    def _log_changed(self, index: int) -> None:
        current = self._ready.log_from
        self._ready.log_from = index if current is None else min(current, index)

    def _broadcast(self) -> None:
        """One heartbeat round; ``round`` numbers it so acks can confirm reads."""
        self._elapsed = 0
        self._round += 1
        self._round_time[self._round] = self.now
        for peer in self.peers:
            self._send_append(peer)
        self._service_reads()

    def _send_append(self, peer: str) -> None:
        prev = self._next[peer] - 1
        entries = tuple(self.log[prev : prev + self.cfg.max_batch])
        self._send(
            "append",
            peer,
            prev_index=prev,
            prev_term=self.term_at(prev),
            entries=entries,
            commit=self.commit,
            round=self._round,
        )

    def _on_append(self, msg: Message) -> None:
        if self.role == "leader":
            return  # two leaders in one term: only a planted bug gets here
        if self.role == "candidate":
            self.role = "follower"
        self.leader = msg.src
        self._reset_timer()
        if msg.prev_index > self.last_index or self.term_at(msg.prev_index) != msg.prev_term:
            hint = min(self.last_index, msg.prev_index - 1)
            self._send("append_resp", msg.src, index=msg.prev_index, hint=hint, round=msg.round)
            return
        self._merge(msg.prev_index, msg.entries)
        match = msg.prev_index + len(msg.entries)
        if msg.commit > self.commit:
            self.commit = max(self.commit, min(msg.commit, match))
            self._apply()
        self._send("append_resp", msg.src, success=True, index=match, round=msg.round)

    def _merge(self, prev: int, entries: tuple[Entry, ...]) -> None:
        """Append what is new; truncate only at a real conflict (messages reorder)."""
        for k, entry in enumerate(entries):
            index = prev + 1 + k
            if index <= self.last_index:
                if self.term_at(index) == entry.term:
                    continue
                del self.log[index - 1 :]
            self.log.append(entry)
            self._log_changed(index)

    def _on_append_resp(self, msg: Message) -> None:
        if self.role != "leader":
            return
        peer = msg.src
        self._acked_round[peer] = max(self._acked_round[peer], msg.round)
        if self.bug == "lease-read":
            self._extend_lease()
        if msg.success:
            self._match[peer] = max(self._match[peer], msg.index)
            self._next[peer] = max(self._next[peer], msg.index + 1)
            self._maybe_commit()
            if self._next[peer] <= self.last_index:
                self._send_append(peer)
        elif msg.index == self._next[peer] - 1:
            step_back = min(msg.hint + 1, self._next[peer] - 1)
            self._next[peer] = max(self._match[peer] + 1, step_back)
            self._send_append(peer)
        self._service_reads()

    def _maybe_commit(self) -> None:
        """Commit the highest entry of this term a majority holds (section 5.4.2)."""
        for n in range(self.last_index, self.commit, -1):
            if self.term_at(n) != self.term:
                if self.term_at(n) < self.term:
                    break
                continue
            count = 1 + sum(1 for p in self.peers if self._match[p] >= n)
            if count >= self.majority:
                self.commit = n
                self._apply()
                self._service_reads()
                return

    def _apply(self) -> None:
        while self.applied < min(self.commit, self.last_index):
            self.applied += 1
            entry = self.log[self.applied - 1]
            kind, value = self._execute(entry.op)
            pending = self._pending.pop(self.applied, None)
            if pending is not None and pending[0] == entry.term:
                self._reply(pending[1], kind, value=value, index=self.applied)

    def _execute(self, op: dict[str, Any]) -> tuple[ReplyKind, Any]:
        f = op["f"]
        if f == "put":
            self.kv[op["key"]] = op["value"]
        elif f == "cas":
            current = self.kv.get(op["key"])
            if canonical(current) != canonical(op["from"]):
                return "mismatch", current
            self.kv[op["key"]] = op["to"]
        elif f == "add":
            elements = self.sets.setdefault(op["key"], [])
            text = canonical(op["element"])
            if all(canonical(e) != text for e in elements):
                elements.append(op["element"])
        return "ok", None

    # -- linearizable reads through a read index (section 8) -------------------------------

    def _request_read(self, rid: int, op: dict[str, Any]) -> None:
        if self.bug == "stale-read" or (self.bug == "lease-read" and self.now < self._lease_until):
            self._reply(rid, "ok", value=self._read_value(op), index=self.applied)
            return
        self._reads.append(_Read(rid, op))
        self._service_reads()

    def _service_reads(self) -> None:
        if self.role != "leader" or not self._reads:
            return
        if self.term_at(self.commit) != self.term:
            return  # no entry of this term committed yet: commit index may be behind
        fresh = [r for r in self._reads if r.round < 0]
        if fresh:
            for read in fresh:
                read.index = self.commit
                read.round = self._round + 1
            self._broadcast()
            return  # _broadcast calls back here once the round is started
        confirmed = self._quorum_round()
        waiting: list[_Read] = []
        for read in self._reads:
            if read.round <= confirmed and self.applied >= read.index:
                self._reply(read.rid, "ok", value=self._read_value(read.op), index=self.applied)
            else:
                waiting.append(read)
        self._reads = waiting

    def _quorum_round(self) -> int:
        rounds = sorted([self._round, *self._acked_round.values()], reverse=True)
        return rounds[self.majority - 1]

    def _extend_lease(self) -> None:
        """Planted bug ``lease-read``: trust the local clock for a leader lease."""
        sent = self._round_time.get(self._quorum_round())
        if sent is not None:
            lease = self.cfg.election_ticks * self.cfg.tick_s
            self._lease_until = max(self._lease_until, sent + lease)
        if len(self._round_time) > 256:
            oldest = self._quorum_round()
            self._round_time = {r: t for r, t in self._round_time.items() if r >= oldest}

    def _read_value(self, op: dict[str, Any]) -> Any:
        if op["f"] == "get":
            return self.kv.get(op["key"])
        return list(self.sets.get(op["key"], []))

    # -- outputs ---------------------------------------------------------------------------

    def _send(self, type_: MessageType, dst: str, **fields: Any) -> None:
        fields.setdefault("term", self.term)
        self._ready.messages.append(Message(type_, self.id, dst, **fields))

    def _reply(
        self,
        rid: int,
        kind: ReplyKind,
        *,
        value: Any = None,
        leader: str | None = None,
        index: int = 0,
    ) -> None:
        self._ready.replies.append(Reply(rid, kind, value, leader, index))

    def _fail_pending(self) -> None:
        """Leadership is lost: writes in flight may still commit, reads did nothing."""
        for _, rid in self._pending.values():
            self._reply(rid, "unknown")
        for read in self._reads:
            self._reply(read.rid, "not_leader")
        self._pending = {}
        self._reads = []
