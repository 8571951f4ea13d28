"""The Raft node process: the pure core behind HTTP, a ticker, peers and a disk.

Every input (a tick, a peer message, a client request) goes to the core, then
``_flush`` persists what the core asks (fsync), and only then sends its messages and
answers its clients: the order that keeps Raft safe across SIGKILL and power loss.
(The planted bug ``ack-before-fsync`` fsyncs the log only once a second, on a tick.)

HTTP API (``docs`` in the brief; all bodies JSON)::

    GET  /status               {"node","role","term","leader","commit_index",
                                "last_log_index","clock","bug"}
    GET  /kv/{key}             200 {"value": v}            (read index, linearizable)
    PUT  /kv/{key}             {"value": v}        -> 200 {"ok": true} once committed
    POST /kv/{key}/cas         {"from": a, "to": b} -> 200, or 409 {"error","value"}
    POST /set/{key}/add        {"element": e}      -> 200 {"ok": true} once committed
    GET  /set/{key}            200 {"elements": [...]}
    POST /peer                 a one-way Raft message -> 204
    not leader: 421 {"error": "not leader", "leader": id|null}
    no answer in time, or leadership lost meanwhile: 504 (the outcome is unknown)
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from typing import Any

from aiohttp import web

from chaoskit.targets._node import (
    NodeArgs,
    PeerSender,
    json_error,
    make_app,
    read_json,
    serve_with_ticker,
)
from chaoskit.targets.raft import _wire as wire
from chaoskit.targets.raft._core import Message, RaftConfig, RaftCore, Reply
from chaoskit.targets.raft._storage import Storage

log = logging.getLogger("chaoskit.targets.raft")
#: ``ack-before-fsync``: how often the log is fsynced (a tick checks).
LAZY_SYNC_S = 1.0


class RaftNode:
    """One Raft process; ``run`` serves until SIGTERM."""

    def __init__(self, args: NodeArgs) -> None:
        self.args = args
        self.storage = Storage(args.data_dir, sync_log=args.bug != "ack-before-fsync")
        self._synced_at = time.monotonic()
        hard, entries = self.storage.load()
        config = RaftConfig(
            election_ticks=args.election_ticks,
            heartbeat_ticks=args.heartbeat_ticks,
            tick_s=args.tick_ms / 1000.0,
            bug=args.bug,
            pre_vote="pre-vote" in args.flags,
        )
        members = [args.id, *args.peers]
        self.core = RaftCore(args.id, members, args.rng(), config, hard, entries)
        self.sender = PeerSender(args.peers)
        self._waiters: dict[int, asyncio.Future[Reply]] = {}
        self._rids = itertools.count(1)
        log.info(
            "%s starts: term %d, %d log entries, pre-vote %s",
            args.id,
            self.core.term,
            len(entries),
            "on" if config.pre_vote else "off",
        )

    async def run(self) -> None:
        try:
            await serve_with_ticker(self.app(), self.args, self.sender, self._tick)
        finally:
            self.storage.close()

    def app(self) -> web.Application:
        app = make_app()
        app.router.add_get("/status", self.status)
        app.router.add_post("/peer", self.peer)
        app.router.add_get("/kv/{key}", self.get)
        app.router.add_put("/kv/{key}", self.put)
        app.router.add_post("/kv/{key}/cas", self.cas)
        app.router.add_post("/set/{key}/add", self.add)
        app.router.add_get("/set/{key}", self.read_set)
        return app

    # -- the core's inputs -----------------------------------------------------------------

    def _tick(self) -> None:
        self.core.tick(time.time())
        self._flush()
        if not self.storage.sync_log and time.monotonic() - self._synced_at >= LAZY_SYNC_S:
            self.storage.sync()
            self._synced_at = time.monotonic()

    def _flush(self) -> None:
        ready = self.core.ready()
        self.storage.save(ready)
        for msg in ready.messages:
            self.sender.send(msg.dst, wire.encode(msg), key=_supersede_key(msg))
        for reply in ready.replies:
            waiter = self._waiters.pop(reply.rid, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(reply)

    async def _invoke(self, op: dict[str, Any]) -> Reply | None:
        rid = next(self._rids)
        waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiters[rid] = waiter
        self.core.request(rid, op)
        self._flush()
        try:
            return await asyncio.wait_for(waiter, self.args.request_timeout)
        except TimeoutError:
            self._waiters.pop(rid, None)
            return None

    # -- handlers --------------------------------------------------------------------------

    async def status(self, request: web.Request) -> web.Response:
        body = self.core.status()
        body.update(clock=time.time(), bug=self.args.bug)
        return web.json_response(body)

    async def peer(self, request: web.Request) -> web.Response:
        msg = wire.decode(await read_json(request), self.args.id, self.args.peers)
        self.core.step(msg)
        self._flush()
        return web.Response(status=204)

    async def get(self, request: web.Request) -> web.Response:
        op = {"f": "get", "key": wire.key(request.match_info["key"])}
        return _answer(await self._invoke(op), lambda r: {"value": r.value})

    async def read_set(self, request: web.Request) -> web.Response:
        op = {"f": "read-set", "key": wire.key(request.match_info["key"])}
        return _answer(await self._invoke(op), lambda r: {"elements": r.value})

    async def put(self, request: web.Request) -> web.Response:
        key = wire.key(request.match_info["key"])
        (value,) = wire.field(await read_json(request), "value")
        return _answer(await self._invoke({"f": "put", "key": key, "value": value}), _ok)

    async def cas(self, request: web.Request) -> web.Response:
        key = wire.key(request.match_info["key"])
        old, new = wire.field(await read_json(request), "from", "to")
        op = {"f": "cas", "key": key, "from": old, "to": new}
        return _answer(await self._invoke(op), _ok)

    async def add(self, request: web.Request) -> web.Response:
        key = wire.key(request.match_info["key"])
        (element,) = wire.field(await read_json(request), "element")
        return _answer(await self._invoke({"f": "add", "key": key, "element": element}), _ok)


def _supersede_key(msg: Message) -> str | None:
    """Appends to one peer replace each other while they wait to be sent.

    A newer append carries everything an older one still waiting does: entries from
    the peer's next index (which only drops on a rejection, to resend more), a commit
    index and heartbeat round at least as high. Without this, every acknowledgement
    of a lagging follower queues one more append behind the others (see _sender.py).
    """
    return "append" if msg.type == "append" else None


def _ok(reply: Reply) -> dict[str, Any]:
    return {"ok": True}


def _answer(reply: Reply | None, body: Any) -> web.Response:
    """Map the core's reply to the HTTP answer the Target expects."""
    if reply is None:
        return json_error(504, "timeout")
    if reply.kind == "ok":
        return web.json_response(body(reply))
    if reply.kind == "mismatch":
        return json_error(409, "cas mismatch", value=reply.value)
    if reply.kind == "not_leader":
        return json_error(421, "not leader", leader=reply.leader)
    return json_error(504, "leadership lost before commit")
