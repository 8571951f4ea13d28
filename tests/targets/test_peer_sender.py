"""PeerSender: keyed messages replace the one still waiting; the others all queue.

A local aiohttp server stands in for the peer and holds the first POST until the
test releases it, so that later messages are known to be waiting in the queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from chaoskit.targets._node import PeerSender

pytestmark = pytest.mark.integration


class Peer:
    """Records every body it is sent; the first POST waits for ``release``."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.first = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        if len(self.bodies) == 1:
            self.first.set()
            await self.release.wait()
        return web.Response(status=204)


@pytest.fixture
async def peer() -> AsyncIterator[tuple[Peer, int]]:
    fake = Peer()
    app = web.Application()
    app.router.add_post("/peer", fake.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield fake, port
    finally:
        fake.release.set()
        await runner.cleanup()


async def _delivered(fake: Peer, count: int) -> None:
    async with asyncio.timeout(10):
        while len(fake.bodies) < count:
            await asyncio.sleep(0.01)


async def test_keyed_messages_replace_the_waiting_one(peer: tuple[Peer, int]) -> None:
    fake, port = peer
    sender = PeerSender({"n2": ("127.0.0.1", port)})
    await sender.start()
    try:
        sender.send("n2", {"n": 0}, key="append")
        await asyncio.wait_for(fake.first.wait(), 10)  # n 0 is in flight, held
        for n in range(1, 6):
            sender.send("n2", {"n": n}, key="append")
        sender.send("n2", {"n": "vote"})
        sender.send("n2", {"n": 6}, key="append")  # still replaces the waiting n 1..5
        fake.release.set()
        await _delivered(fake, 3)
        await asyncio.sleep(0.1)  # nothing more may come
        assert [b["n"] for b in fake.bodies] == [0, 6, "vote"]
        assert sender.replaced == 5
        assert sender.dropped == 0
    finally:
        await sender.close()


async def test_unkeyed_messages_all_go_in_order(peer: tuple[Peer, int]) -> None:
    fake, port = peer
    sender = PeerSender({"n2": ("127.0.0.1", port)})
    await sender.start()
    try:
        sender.send("n2", {"n": 0})
        await asyncio.wait_for(fake.first.wait(), 10)
        for n in range(1, 6):
            sender.send("n2", {"n": n})
        fake.release.set()
        await _delivered(fake, 6)
        assert [b["n"] for b in fake.bodies] == list(range(6))
        assert sender.replaced == 0
    finally:
        await sender.close()


async def test_a_key_queues_again_once_its_message_is_taken(peer: tuple[Peer, int]) -> None:
    fake, port = peer
    fake.release.set()  # nothing held: each message is taken at once
    sender = PeerSender({"n2": ("127.0.0.1", port)})
    await sender.start()
    try:
        for n in range(3):
            sender.send("n2", {"n": n}, key="append")
            await _delivered(fake, n + 1)
        assert [b["n"] for b in fake.bodies] == [0, 1, 2]
    finally:
        await sender.close()
