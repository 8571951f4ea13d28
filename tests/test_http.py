"""The node client: "not sent" only when nothing was sent, and nothing sent twice.

The workload records a ``ConnectError`` as a definite failure. aiohttp, underneath,
resends idempotent requests once when a connection breaks; these tests pin that the
client never does, with real sockets and a server that counts what it received.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from chaoskit.clients.http import node_client
from chaoskit.runtimes.ports import reserve_port


class DroppingServer:
    """Answers ``GET /`` with 200; reads a ``PUT`` whole, then drops the connection
    (and with ``die=True`` stops listening, as a killed node does)."""

    def __init__(self, die: bool) -> None:
        self.die = die
        self.puts = 0
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            if head.startswith(b"PUT"):
                self.puts += 1
                if self.die and self.server is not None:
                    self.server.close()
                writer.transport.abort()
                return
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()


@pytest.fixture
async def serve() -> AsyncIterator[object]:
    servers: list[asyncio.Server] = []

    async def start(die: bool) -> tuple[DroppingServer, str]:
        state = DroppingServer(die)
        state.server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
        servers.append(state.server)
        port = state.server.sockets[0].getsockname()[1]
        return state, f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("die", [False, True])
async def test_a_put_whose_answer_is_lost_is_sent_once_and_not_called_unsent(
    serve, die: bool
) -> None:
    state, url = await serve(die)
    async with node_client(timeout=5.0) as http:
        assert (await http.get(url + "/")).status_code == 200  # a kept-alive connection
        with pytest.raises(httpx.TransportError) as caught:
            await http.put(url + "/kv/k", json={"value": 1})
    await asyncio.sleep(0.2)
    assert state.puts == 1
    assert not isinstance(caught.value, httpx.ConnectError | httpx.ConnectTimeout)


async def test_nothing_listening_is_a_connect_error() -> None:
    port = reserve_port()
    async with node_client(timeout=2.0) as http:
        with pytest.raises(httpx.ConnectError):
            await http.put(f"http://127.0.0.1:{port}/kv/k", json={"value": 1})
