"""The Bully node process: the pure core behind HTTP, a ticker and peers.

``GET /status`` -> ``{"node","role","term","leader","clock"}`` (``term`` is the
election epoch); ``POST /peer`` takes ``{"from","to","type","epoch"}`` and answers 204;
the key-value endpoints of the Raft node answer 501: Bully elects, it stores nothing.
"""

from __future__ import annotations

import time
from typing import Any

from chaoskit.targets._node import BadRequest, ElectionNode, NodeArgs, check_envelope
from chaoskit.targets.bully._core import (
    MESSAGE_TYPES,
    BullyConfig,
    BullyCore,
    BullyMessage,
    rank_of,
)

MAX_EPOCH = 2**62


class BullyNode(ElectionNode):
    """One Bully process; ``run`` serves until SIGTERM."""

    protocol = "bully"

    def __init__(self, args: NodeArgs) -> None:
        super().__init__(args)
        ranks = {n: rank_of(n) for n in [args.id, *args.peers]}
        config = BullyConfig(
            heartbeat_ticks=args.heartbeat_ticks,
            leader_timeout_ticks=args.election_ticks,
            answer_ticks=args.heartbeat_ticks,
            coordinator_ticks=args.election_ticks,
        )
        self.core = BullyCore(args.id, ranks, args.rng(), config)

    def tick(self) -> None:
        self.core.tick(time.time())

    def step(self, body: Any) -> None:
        self.core.step(decode(body, self.args.id, self.args.peers))

    def flush(self) -> None:
        for msg in self.core.ready():
            self.sender.send(msg.dst, encode(msg))

    def status_body(self) -> dict[str, Any]:
        body = self.core.status()
        body["clock"] = time.time()
        return body


def encode(msg: BullyMessage) -> dict[str, Any]:
    return {"from": msg.src, "to": msg.dst, "type": msg.type, "epoch": msg.epoch}


def decode(body: Any, me: str, peers: Any) -> BullyMessage:
    """Validate a ``POST /peer`` body; ``BadRequest`` names what is wrong."""
    kind = check_envelope(body, me, peers, MESSAGE_TYPES)
    epoch = body.get("epoch")
    if type(epoch) is not int or not 0 <= epoch < MAX_EPOCH:
        raise BadRequest("epoch must be a non-negative integer")
    return BullyMessage(kind, body["from"], me, epoch)
