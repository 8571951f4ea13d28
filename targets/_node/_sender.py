"""One-way messages to peers: fire and forget, one bounded queue per peer.

Each peer has its own queue and worker, so a peer that is dead (connection refused)
or silent (a hung proxy, answered only by the timeout) delays nothing but its own
messages; when its queue is full new messages to it are dropped, as a network would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

log = logging.getLogger("targets.node.sender")


class PeerSender:
    """POST each message as JSON to ``http://HOST:PORT/peer`` of its destination."""

    def __init__(
        self,
        peers: Mapping[str, tuple[str, int]],
        *,
        queue_size: int = 64,
        timeout: float = 0.5,
    ) -> None:
        self._urls = {p: f"http://{h}:{port}/peer" for p, (h, port) in peers.items()}
        self._queues: dict[str, asyncio.Queue[dict[str, Any]]] = {
            p: asyncio.Queue(maxsize=queue_size) for p in peers
        }
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        self.failed = 0

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            connector=aiohttp.TCPConnector(limit_per_host=2, force_close=False),
        )
        self._tasks = [asyncio.create_task(self._worker(p)) for p in self._queues]

    def send(self, peer: str, body: dict[str, Any]) -> None:
        """Queue ``body`` for ``peer``; never blocks, drops when the queue is full."""
        queue = self._queues.get(peer)
        if queue is None:
            return
        try:
            queue.put_nowait(body)
        except asyncio.QueueFull:
            self.dropped += 1

    async def _worker(self, peer: str) -> None:
        queue, url = self._queues[peer], self._urls[peer]
        assert self._session is not None
        while True:
            body = await queue.get()
            try:
                async with self._session.post(url, json=body) as resp:
                    await resp.read()
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                self.failed += 1
                log.debug("to %s: %s", peer, exc)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
