"""The Paxos node process: the pure core behind HTTP, a ticker, peers and a state file.

``GET /status`` -> ``{"node","role","term","leader","clock","bug"}`` (``term`` is the
ballot: the leader's own, else the highest seen); ``POST /peer`` takes
``{"from","to","type","ballot","seq","higher"}`` and answers 204. The key-value
endpoints of the Raft node answer 501: this node elects, it stores nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from typing import Any

from aiohttp import web

from targets._node import (
    BadRequest,
    NodeArgs,
    PeerSender,
    json_error,
    make_app,
    read_json,
    serve,
    tick_loop,
)
from targets.bully._core import rank_of
from targets.paxos import _storage
from targets.paxos._core import MESSAGE_TYPES, PaxosConfig, PaxosCore, PaxosMessage

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


class PaxosNode:
    """One Paxos process; ``run`` serves until SIGTERM."""

    def __init__(self, args: NodeArgs) -> None:
        self.args = args
        ranks = {n: rank_of(n) for n in [args.id, *args.peers]}
        seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(8), "big")
        durable = _storage.load(args.data_dir)
        self.core = PaxosCore(
            args.id, ranks, random.Random(seed), time.monotonic(), config_from(args), durable
        )
        self.sender = PeerSender(args.peers)

    async def run(self) -> None:
        await self.sender.start()
        ticker = asyncio.create_task(tick_loop(self.args.tick_ms / 1000.0, self._tick))
        try:
            await serve(self.app(), self.args.host, self.args.port)
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            await self.sender.close()

    def app(self) -> web.Application:
        app = make_app()
        app.router.add_get("/status", self.status)
        app.router.add_post("/peer", self.peer)
        for path in ("/kv/{tail:.*}", "/set/{tail:.*}"):
            app.router.add_route("*", path, self.no_store)
        return app

    def _tick(self) -> None:
        self.core.tick(time.monotonic())
        self._flush()

    def _flush(self) -> None:
        """Persist first (a promise must survive a crash), then send."""
        if self.core.dirty:
            _storage.save(self.args.data_dir, self.core.durable)
            self.core.dirty = False
        self.core.events()
        for msg in self.core.ready():
            self.sender.send(msg.dst, encode(msg))

    async def status(self, request: web.Request) -> web.Response:
        body = self.core.status(time.monotonic())
        body.update(clock=time.time(), bug=self.args.bug)
        return web.json_response(body)

    async def peer(self, request: web.Request) -> web.Response:
        msg = decode(await read_json(request), self.args.id, self.args.peers)
        self.core.step(msg, time.monotonic())
        self._flush()
        return web.Response(status=204)

    async def no_store(self, request: web.Request) -> web.Response:
        return json_error(501, "paxos elects a leader only: no key-value store")


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
    if not isinstance(body, dict):
        raise BadRequest("message must be a JSON object")
    src, dst, kind = body.get("from"), body.get("to"), body.get("type")
    if not isinstance(src, str) or src not in peers:
        raise BadRequest(f"unknown sender {str(src)[:40]!r}")
    if dst != me:
        raise BadRequest(f"message is for {str(dst)[:40]!r}, this is {me}")
    if kind not in MESSAGE_TYPES:
        raise BadRequest(f"unknown message type {str(kind)[:40]!r}")
    numbers = [body.get(k, 0) for k in ("ballot", "seq", "higher")]
    if any(type(v) is not int or not 0 <= v < MAX_BALLOT for v in numbers):
        raise BadRequest("ballot, seq and higher must be non-negative integers")
    return PaxosMessage(kind, src, dst, *numbers)
