"""One-way messages to peers: fire and forget, one bounded queue per peer.

Each peer has its own queue and worker, so a peer that is dead (connection refused)
or silent (a hung proxy, answered only by the timeout) delays nothing but its own
messages; when its queue is full new messages to it are dropped, as a network would.

A worker sends one message at a time, so a peer takes at most one message per round
trip. A node that makes messages faster than that (a Raft leader answers every
acknowledgement of a lagging follower with a new append, and each heartbeat adds one
more) would fill the queue with stale messages, each waiting behind all the others:
measured, 64 queued appends of a few ms each made every write wait up to a second,
and heartbeats dropped from the full queue cost the leader its leadership. So a
message may carry a ``key``: a newer message under the same key replaces the one
still waiting (in its place in line), and only messages that say something new queue
up. Replacing is losing the older message, which every protocol here tolerates.

Each worker owns one kept-open connection to its peer (``_post.PeerLine``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Hashable, Mapping
from typing import Any

from chaoskit.targets._node._post import PeerLine, PostError

log = logging.getLogger("chaoskit.targets.node.sender")


class _Slot:
    """A place in a peer's queue; its body may be replaced until a worker takes it."""

    __slots__ = ("body", "key")

    def __init__(self, body: dict[str, Any], key: Hashable | None) -> None:
        self.body = body
        self.key = key


class PeerSender:
    """POST each message as JSON to ``http://HOST:PORT/peer`` of its destination."""

    def __init__(
        self,
        peers: Mapping[str, tuple[str, int]],
        *,
        queue_size: int = 64,
        timeout: float = 0.5,
    ) -> None:
        self._lines = {p: PeerLine(h, port) for p, (h, port) in peers.items()}
        self._queues: dict[str, asyncio.Queue[_Slot]] = {
            p: asyncio.Queue(maxsize=queue_size) for p in peers
        }
        #: Per peer, the slots still waiting that a newer message of their key replaces.
        self._waiting: dict[str, dict[Hashable, _Slot]] = {p: {} for p in peers}
        self._timeout = timeout
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0
        self.replaced = 0
        self.failed = 0

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._worker(p)) for p in self._queues]

    def send(self, peer: str, body: dict[str, Any], *, key: Hashable | None = None) -> None:
        """Queue ``body`` for ``peer``; never blocks, drops when the queue is full.

        With a ``key``, ``body`` supersedes a message of the same key that is still
        waiting for ``peer`` (it takes that message's place instead of queueing).
        """
        queue = self._queues.get(peer)
        if queue is None:
            return
        waiting = self._waiting[peer]
        if key is not None and (slot := waiting.get(key)) is not None:
            slot.body = body
            self.replaced += 1
            return
        slot = _Slot(body, key)
        try:
            queue.put_nowait(slot)
        except asyncio.QueueFull:
            self.dropped += 1
            return
        if key is not None:
            waiting[key] = slot

    async def _worker(self, peer: str) -> None:
        queue, line, waiting = self._queues[peer], self._lines[peer], self._waiting[peer]
        while True:
            slot = await queue.get()
            if slot.key is not None and waiting.get(slot.key) is slot:
                del waiting[slot.key]
            try:
                await line.post(slot.body, self._timeout)
            except PostError as exc:
                self.failed += 1
                log.debug("to %s: %s", peer, exc)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for line in self._lines.values():
            line.close()
