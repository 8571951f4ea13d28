"""PeerLine: a node's kept-open connection to one peer, against real local servers.

An aiohttp server stands in for the peer (the reference nodes serve ``/peer`` with
aiohttp); raw asyncio servers play the peers that close, hang or answer badly.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web

from chaoskit.targets._node._post import PeerLine, PostError

pytestmark = pytest.mark.integration


class Peer:
    """Records every body and the connection it came on; answers 204 or 400."""

    def __init__(self) -> None:
        self.bodies: list[Any] = []
        self.connections: set[int] = set()

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        assert request.transport is not None
        self.connections.add(id(request.transport))
        if request.headers.get("Content-Type") != "application/json":
            return web.json_response({"error": "not json"}, status=400)
        if self.bodies[-1].get("bad"):
            return web.json_response({"error": "refused"}, status=400)
        return web.Response(status=204)


@pytest.fixture
async def peer() -> AsyncIterator[tuple[Peer, web.AppRunner, int]]:
    fake = Peer()
    app = web.Application()
    app.router.add_post("/peer", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, runner, port
    finally:
        await runner.cleanup()


async def _raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_messages_go_in_order_on_one_connection(peer: tuple[Peer, Any, int]) -> None:
    fake, _, port = peer
    line = PeerLine("127.0.0.1", port)
    try:
        statuses = [await line.post({"n": n, "text": "é"}, 5.0) for n in range(20)]
    finally:
        line.close()
    assert statuses == [204] * 20
    assert [b["n"] for b in fake.bodies] == list(range(20))
    assert fake.bodies[0]["text"] == "é"
    assert len(fake.connections) == 1


async def test_an_answer_with_a_body_is_read_whole(peer: tuple[Peer, Any, int]) -> None:
    fake, _, port = peer
    line = PeerLine("127.0.0.1", port)
    try:
        assert await line.post({"bad": True}, 5.0) == 400
        assert await line.post({"n": 1}, 5.0) == 204  # the error's body did not linger
    finally:
        line.close()
    assert len(fake.connections) == 1


async def test_a_connection_closed_while_idle_loses_no_message() -> None:
    """The peer answers one message per connection and closes it (as a restarted
    node or a proxy that cut its links does): every message still arrives."""
    got: list[bytes] = []

    async def one_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        got.append(await reader.readexactly(length))
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()
        writer.close()

    server, port = await _raw_server(one_then_close)
    line = PeerLine("127.0.0.1", port)
    try:
        for n in range(3):
            assert await line.post({"n": n}, 5.0) == 204
            await asyncio.sleep(0.05)  # the close reaches us before the next message
    finally:
        line.close()
        server.close()
    assert got == [b'{"n":0}', b'{"n":1}', b'{"n":2}']


async def test_a_silent_peer_times_out_and_the_next_message_reconnects() -> None:
    connections = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read()  # never answers; returns when the sender gives up

    server, port = await _raw_server(silent)
    line = PeerLine("127.0.0.1", port)
    try:
        for _ in range(2):
            with pytest.raises(PostError, match="TimeoutError"):
                await line.post({"n": 1}, 0.2)
        await asyncio.sleep(0.05)
    finally:
        line.close()
        server.close()
    assert connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.0 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n",
        b"garbage\r\n\r\n",
    ],
)
async def test_an_answer_it_cannot_read_is_a_failure(answer: bytes) -> None:
    async def odd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(answer)
        await writer.drain()

    server, port = await _raw_server(odd)
    line = PeerLine("127.0.0.1", port)
    try:
        with pytest.raises(PostError):
            await line.post({"n": 1}, 2.0)
    finally:
        line.close()
        server.close()


async def test_nobody_listening_is_a_failure() -> None:
    server, port = await _raw_server(lambda r, w: asyncio.sleep(0))
    server.close()
    await server.wait_closed()
    line = PeerLine("127.0.0.1", port)
    with pytest.raises(PostError, match="ConnectionRefusedError"):
        await line.post({"n": 1}, 2.0)
