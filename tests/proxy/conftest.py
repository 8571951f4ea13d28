"""Fixtures for the fault proxy: upstream servers, a server in a thread, helpers.

pytest-asyncio is not a dependency: async scenarios run through ``kit.run``, which
gives each test a fresh event loop and a hard time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Awaitable, Coroutine, Iterator
from typing import Any

import pytest

from chaoskit.proxy import ProxyClient, ProxyServer


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except ConnectionError:
        pass
    finally:
        writer.close()


class Kit:
    """Async helpers shared by the integration tests (all on 127.0.0.1)."""

    @staticmethod
    def run(coro: Coroutine[Any, Any, Any], timeout: float = 60.0) -> Any:
        return asyncio.run(asyncio.wait_for(coro, timeout))

    @staticmethod
    @contextlib.asynccontextmanager
    async def upstream(handler: Any = _echo, port: int = 0) -> AsyncIterator[int]:
        """A TCP server (an echo server by default); yields its port."""
        server = await asyncio.start_server(handler, "127.0.0.1", port)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()
            await server.wait_closed()

    @staticmethod
    @contextlib.asynccontextmanager
    async def proxy(seed: int = 0) -> AsyncIterator[tuple[ProxyServer, ProxyClient]]:
        """An embedded server on a free port and a client for it."""
        async with ProxyServer(port=0, seed=seed) as server, ProxyClient(server.url) as client:
            yield server, client

    @staticmethod
    async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection("127.0.0.1", port)

    @staticmethod
    async def read_exactly(reader: asyncio.StreamReader, n: int, timeout: float = 10.0) -> bytes:
        return await asyncio.wait_for(reader.readexactly(n), timeout)

    @staticmethod
    async def round_trip(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes = b"ping"
    ) -> float:
        """Seconds for ``payload`` to come back through an echo upstream."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        writer.write(payload)
        got = await Kit.read_exactly(reader, len(payload))
        assert got == payload
        return loop.time() - start

    @staticmethod
    async def closed_by_peer(reader: asyncio.StreamReader, timeout: float = 5.0) -> str:
        """How the connection ended: "eof", "reset", or "open" if still up at timeout."""
        try:
            data = await asyncio.wait_for(reader.read(65536), timeout)
        except TimeoutError:
            return "open"
        except ConnectionResetError:
            return "reset"
        return "eof" if data == b"" else f"data {data!r}"

    @staticmethod
    async def close(writer: asyncio.StreamWriter) -> None:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


class ThreadedServer:
    """A ProxyServer and an echo upstream in a background event loop, for sync clients."""

    def __init__(self, seed: int = 0) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server = ProxyServer(port=0, seed=seed)
        self.call(self.server.start())
        self.echo = self.call(asyncio.start_server(_echo, "127.0.0.1", 0))
        self.echo_port: int = self.echo.sockets[0].getsockname()[1]

    def call(self, coro: Awaitable[Any]) -> Any:
        async def wrapped() -> Any:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(30)

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        async def shutdown() -> None:
            await self.server.close()
            self.echo.close()
            await self.echo.wait_closed()

        self.call(shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def threaded() -> Iterator[ThreadedServer]:
    server = ThreadedServer(seed=3)
    try:
        yield server
    finally:
        server.close()
