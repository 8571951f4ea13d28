"""The Observer: asks every node "role, term, leader?" many times a second.

Each answer is timestamped with the controller's monotonic clock (never the node's)
and streamed to ``observations.jsonl``; a node that does not answer in time is
recorded as ``down``. ``time`` is when the answer arrived and ``latency`` how long
the question took, so the node held that role at some instant within
``[time - latency, time]``.

The interval between two answers of a node is the precision of every leader check
(two leaders overlapping for less may go unseen), so the observer is built to keep
it, 20 ms, with 9 nodes on two loaded cores (``benchmarks/observer.py``):

- one task per node, all asking at once, each on its own fixed 20 ms grid;
- one connection per node kept open, the status question written by hand
  (``clients/keepalive.py``: a sixth of httpx's CPU per question);
- ``recent_p99_ms`` watches the intervals reached over the last seconds, so the live
  display and the summary can say so when the machine cannot keep up.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from typing import Any

from chaoskit.clients.http import observer_client
from chaoskit.core.records import Record
from chaoskit.core.target import NodeInfo, Target
from chaoskit.store.streams import JsonlWriter, RunClock

DEFAULT_INTERVAL_S = 0.02
FRESH_NS = 1_000_000_000
#: Intervals kept for ``recent_p99_ms``: about the last five seconds of 9 nodes.
RECENT = 2500


class Observer:
    """Polls every node concurrently and keeps the latest answer of each."""

    def __init__(
        self,
        target: Target,
        nodes: Sequence[NodeInfo],
        writer: JsonlWriter,
        clock: RunClock,
        *,
        interval: float = DEFAULT_INTERVAL_S,
        timeout: float = 0.25,
    ) -> None:
        self.target = target
        self.nodes = list(nodes)
        self.writer = writer
        self.clock = clock
        self.interval = interval
        self.timeout = timeout
        self.latest: dict[str, Record] = {}
        self.samples = 0
        #: Nodes that have answered at least once (start-up waits for all of them).
        self.answered: set[str] = set()
        #: When some node first said it leads (run clock, ns): the end of start-up.
        self.first_leader: int | None = None
        self._recent: deque[int] = deque(maxlen=RECENT)
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._http = observer_client(timeout=timeout, limit=4 * len(self.nodes) + 4)

    def start(self) -> None:
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(self._poll(n), name=f"observe-{n.id}") for n in self.nodes
        ]

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5.0)
        self._tasks = []
        await self._http.aclose()

    def current_leader(self) -> str | None:
        """The node that most recently claimed leadership in the highest term seen."""
        now = self.clock.now()
        best: tuple[int, int, str] | None = None
        for node, rec in self.latest.items():
            if rec["role"] != "leader" or now - rec["time"] > FRESH_NS:
                continue
            key = (rec["term"] if rec["term"] is not None else -1, rec["time"], node)
            if best is None or key > best:
                best = key
        return best[2] if best else None

    def roles(self) -> dict[str, str]:
        return {node: rec["role"] for node, rec in sorted(self.latest.items())}

    async def wait_for_leader(self, timeout: float) -> str | None:
        """The current leader once there is one (None after ``timeout`` seconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (leader := self.current_leader()) is None and loop.time() < deadline:
            await asyncio.sleep(self.interval)
        return leader

    async def rounds(self, count: int, timeout: float) -> None:
        """Wait until every node has been asked ``count`` more times (at most
        ``timeout`` seconds): the next answers of all of them are on record."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        since, enough = self.clock.now(), self.samples + count * len(self.nodes)
        while loop.time() < deadline and (
            self.samples < enough or any(r["time"] <= since for r in self.latest.values())
        ):
            await asyncio.sleep(self.interval / 2)

    def recent_p99_ms(self) -> float | None:
        """The p99 interval between two answers of a node over the last seconds."""
        if len(self._recent) < 50:
            return None
        ordered = sorted(self._recent)
        return ordered[int(0.99 * (len(ordered) - 1))] / 1e6

    async def observe_once(self, node: NodeInfo) -> Record:
        """Ask one node once and record the answer (or ``down``)."""
        sent = self.clock.now()
        rec: dict[str, Any]
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation
            async with asyncio.timeout(self.timeout * 1.5):
                status = await self.target.status(self._http, node, self.timeout)
            now = self.clock.now()
            rec = {
                "time": now,
                "node": node.id,
                "role": status.role,
                "term": status.term,
                "leader": status.leader,
                "latency": now - sent,
            }
            self.answered.add(node.id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure to answer means "down"
            now = self.clock.now()
            rec = {
                "time": now,
                "node": node.id,
                "role": "down",
                "term": None,
                "leader": None,
                "latency": now - sent,
                "error": type(exc).__name__,
            }
        if self.first_leader is None and rec["role"] == "leader":
            self.first_leader = now
        before = self.latest.get(node.id)
        if before is not None:
            self._recent.append(now - before["time"])
        self.writer.write(rec)
        self.latest[node.id] = rec
        self.samples += 1
        return rec

    async def _poll(self, node: NodeInfo) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not self._stopping:
            await self.observe_once(node)
            next_at += self.interval
            delay = next_at - loop.time()
            if delay < 0:
                next_at = loop.time()
                delay = 0
            await asyncio.sleep(delay)
