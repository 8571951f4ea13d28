"""The Bully node process: the pure core behind HTTP, a ticker and peers.

``GET /status`` -> ``{"node","role","term","leader","clock"}`` (``term`` is the
election epoch); ``POST /peer`` takes ``{"from","to","type","epoch"}`` and answers 204;
the key-value endpoints of the Raft node answer 501: Bully elects, it stores nothing.
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
from targets.bully._core import MESSAGE_TYPES, BullyConfig, BullyCore, BullyMessage, rank_of

MAX_EPOCH = 2**62


class BullyNode:
    """One Bully process; ``run`` serves until SIGTERM."""

    def __init__(self, args: NodeArgs) -> None:
        self.args = args
        ranks = {n: rank_of(n) for n in [args.id, *args.peers]}
        seed = args.seed if args.seed is not None else int.from_bytes(os.urandom(8), "big")
        config = BullyConfig(
            heartbeat_ticks=args.heartbeat_ticks,
            leader_timeout_ticks=args.election_ticks,
            answer_ticks=args.heartbeat_ticks,
            coordinator_ticks=args.election_ticks,
        )
        self.core = BullyCore(args.id, ranks, random.Random(seed), config)
        self.sender = PeerSender(args.peers)

    async def run(self) -> None:
        await self.sender.start()
        self._flush()
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
        self.core.tick(time.time())
        self._flush()

    def _flush(self) -> None:
        for msg in self.core.ready():
            self.sender.send(msg.dst, encode(msg))

    async def status(self, request: web.Request) -> web.Response:
        body = self.core.status()
        body["clock"] = time.time()
        return web.json_response(body)

    async def peer(self, request: web.Request) -> web.Response:
        msg = decode(await read_json(request), self.args.id, self.args.peers)
        self.core.step(msg)
        self._flush()
        return web.Response(status=204)

    async def no_store(self, request: web.Request) -> web.Response:
        return json_error(501, "bully elects a leader only: no key-value store")


def encode(msg: BullyMessage) -> dict[str, Any]:
    return {"from": msg.src, "to": msg.dst, "type": msg.type, "epoch": msg.epoch}


def decode(body: Any, me: str, peers: Any) -> BullyMessage:
    """Validate a ``POST /peer`` body; ``BadRequest`` names what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("message must be a JSON object")
    src, dst, kind, epoch = (body.get(k) for k in ("from", "to", "type", "epoch"))
    if not isinstance(src, str) or src not in peers:
        raise BadRequest(f"unknown sender {str(src)[:40]!r}")
    if dst != me:
        raise BadRequest(f"message is for {str(dst)[:40]!r}, this is {me}")
    if kind not in MESSAGE_TYPES:
        raise BadRequest(f"unknown message type {str(kind)[:40]!r}")
    if type(epoch) is not int or not 0 <= epoch < MAX_EPOCH:
        raise BadRequest("epoch must be a non-negative integer")
    return BullyMessage(kind, src, dst, epoch)
