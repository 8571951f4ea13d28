"""The Paxos node process: the pure core behind HTTP, a ticker, peers and a state file.

``GET /status`` -> ``{"node","role","term","leader","clock","bug"}`` (``term`` is the
ballot: the leader's own, else the highest seen); ``POST /peer`` takes
``{"from","to","type","ballot","seq","higher"}`` and answers 204. The key-value
endpoints of the Raft node answer 501: this node elects, it stores nothing.
"""

from __future__ import annotations

import time
from typing import Any

from chaoskit.targets._node import BadRequest, ElectionNode, NodeArgs, check_envelope
from chaoskit.targets.bully._core import rank_of
from chaoskit.targets.paxos import _storage
from chaoskit.targets.paxos._core import MESSAGE_TYPES, PaxosConfig, PaxosCore, PaxosMessage

MAX_BALLOT = 2**62


def config_from(args: NodeArgs) -> PaxosConfig:
    """Lease and guard sized from the election timeout so that guards expire first."""
    lease = max(2 * args.heartbeat_ticks + 1, args.election_ticks * 3 // 8)
    return PaxosConfig(
        tick_s=args.tick_ms / 1000.0,
        heartbeat_ticks=args.heartbeat_ticks,
        election_ticks=args.election_ticks,
        lease_ticks=lease,
        bug=args.bug,
    )


class PaxosNode(ElectionNode):
    """One Paxos process; ``run`` serves until SIGTERM."""

    protocol = "paxos"

    def __init__(self, args: NodeArgs) -> None:
        super().__init__(args)
        ranks = {n: rank_of(n) for n in [args.id, *args.peers]}
        durable = _storage.load(args.data_dir)
        self.core = PaxosCore(
            args.id, ranks, args.rng(), time.monotonic(), config_from(args), durable
        )

    def tick(self) -> None:
        self.core.tick(time.monotonic())

    def step(self, body: Any) -> None:
        self.core.step(decode(body, self.args.id, self.args.peers), time.monotonic())

    def flush(self) -> None:
        """Persist first (a promise must survive a crash), then send."""
        if self.core.dirty:
            _storage.save(self.args.data_dir, self.core.durable)
            self.core.dirty = False
        self.core.events()
        for msg in self.core.ready():
            self.sender.send(msg.dst, encode(msg))

    def status_body(self) -> dict[str, Any]:
        body = self.core.status(time.monotonic())
        body.update(clock=time.time(), bug=self.args.bug)
        return body


def encode(msg: PaxosMessage) -> dict[str, Any]:
    return {
        "from": msg.src,
        "to": msg.dst,
        "type": msg.type,
        "ballot": msg.ballot,
        "seq": msg.seq,
        "higher": msg.higher,
    }


def decode(body: Any, me: str, peers: Any) -> PaxosMessage:
    """Validate a ``POST /peer`` body; ``BadRequest`` names what is wrong."""
    kind = check_envelope(body, me, peers, MESSAGE_TYPES)
    numbers = [body.get(k, 0) for k in ("ballot", "seq", "higher")]
    if any(type(v) is not int or not 0 <= v < MAX_BALLOT for v in numbers):
        raise BadRequest("ballot, seq and higher must be non-negative integers")
    return PaxosMessage(kind, body["from"], me, *numbers)
