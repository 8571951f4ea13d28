"""The process around an election-only core (Bully, Paxos): ticker, peer API, no store.

Why a base class: such nodes differ only in their core, their message format and what
they do after each step (Paxos persists its promises first). Serving ``/status`` and
``/peer``, answering the key-value endpoints with 501 and running the ticker are the
same, and are written once here.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar, cast

from aiohttp import web

from chaoskit.targets._node._args import NodeArgs
from chaoskit.targets._node._http import BadRequest, json_error, make_app, read_json
from chaoskit.targets._node._sender import PeerSender
from chaoskit.targets._node._ticker import serve_with_ticker

Kind = TypeVar("Kind", bound=str)


def check_envelope(body: Any, me: str, peers: Collection[str], types: Collection[Kind]) -> Kind:
    """Validate a ``POST /peer`` body's sender, addressee and type; return its type.

    ``BadRequest`` names what is wrong (values are cut to 40 characters).
    """
    if not isinstance(body, dict):
        raise BadRequest("message must be a JSON object")
    src, dst, kind = body.get("from"), body.get("to"), body.get("type")
    if not isinstance(src, str) or src not in peers:
        raise BadRequest(f"unknown sender {str(src)[:40]!r}")
    if dst != me:
        raise BadRequest(f"message is for {str(dst)[:40]!r}, this is {me}")
    if kind not in types:
        raise BadRequest(f"unknown message type {str(kind)[:40]!r}")
    return cast(Kind, kind)


class ElectionNode:
    """One election-only process; ``run`` serves until SIGTERM.

    Subclasses set ``protocol`` (named in the 501 answers) and implement ``tick``,
    ``step`` (a decoded ``POST /peer`` body), ``flush`` (send what the core has ready)
    and ``status_body``.
    """

    protocol = "this node"

    def __init__(self, args: NodeArgs) -> None:
        self.args = args
        self.sender = PeerSender(args.peers)

    def tick(self) -> None:
        raise NotImplementedError

    def step(self, body: Any) -> None:
        raise NotImplementedError

    def flush(self) -> None:
        raise NotImplementedError

    def status_body(self) -> dict[str, Any]:
        raise NotImplementedError

    async def run(self) -> None:
        self.flush()
        await serve_with_ticker(self.app(), self.args, self.sender, self._tick)

    def app(self) -> web.Application:
        app = make_app()
        app.router.add_get("/status", self.status)
        app.router.add_post("/peer", self.peer)
        for path in ("/kv/{tail:.*}", "/set/{tail:.*}"):
            app.router.add_route("*", path, self.no_store)
        return app

    def _tick(self) -> None:
        self.tick()
        self.flush()

    async def status(self, request: web.Request) -> web.Response:
        return web.json_response(self.status_body())

    async def peer(self, request: web.Request) -> web.Response:
        self.step(await read_json(request))
        self.flush()
        return web.Response(status=204)

    async def no_store(self, request: web.Request) -> web.Response:
        return json_error(501, f"{self.protocol} elects a leader only: no key-value store")
