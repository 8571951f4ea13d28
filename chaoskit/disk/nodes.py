"""``NodeDisks``: the run's ``Disk`` (chaoskit/core/disk.py): fault file systems under the
nodes' data directories, and the runtime that kills the nodes when the power goes.

The power loss itself is ``DiskFaults``' sequence (freeze, kill, drop, thaw); the kill
in it is ``Runtime.signal(node, SIGKILL)``, which delivers the signal and returns, since
a node blocked in a frozen request cannot exit before the file system answers it. Once
the file systems have thawed, ``Runtime.kill`` reaps the nodes, so they are down (and
``is_running`` says so) when the fault is logged, exactly as after the ``kill`` nemesis.

Faults of one node never overlap: a lock per node serialises them (two clients freezing
one file system are not arbitrated by the file system itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from chaoskit.core.disk import CorruptMode
from chaoskit.core.runtime import Runtime
from chaoskit.disk.control import ControlError
from chaoskit.disk.faults import DiskFaults
from chaoskit.errors import SetupError

#: A torn write needs a file with an unsynced write; a node that syncs at once (most of
#: them) has one only for a moment, so its file system is asked again this often...
TORN_POLL_S = 0.005
#: ... for this long, before the fault becomes a plain power loss (and says so).
TORN_WAIT_S = 2.0
#: Delivering a signal is quick; a runtime that hangs on it is broken.
SIGNAL_TIMEOUT_S = 30.0


class NodeDisks:
    """The disk faults of one run's nodes (one ``DiskFaults``, one ``Runtime``)."""

    def __init__(
        self, faults: DiskFaults, runtime: Runtime, *, torn_wait_s: float = TORN_WAIT_S
    ) -> None:
        self.faults = faults
        self.runtime = runtime
        self.torn_wait_s = torn_wait_s
        self._locks: dict[str, asyncio.Lock] = {}

    # ------------------------------------------------------------ mounts

    def check(self) -> None:
        """``SetupError`` with one line when this machine cannot mount fault file systems."""
        self.faults.check()

    async def mount(self, data_dirs: Mapping[str, Path]) -> None:
        """Mount a fault file system on every node's (empty) data directory, side by side."""
        self.check()
        results = await asyncio.gather(
            *(asyncio.to_thread(self.faults.mount, n, d) for n, d in data_dirs.items()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def sync_all(self) -> None:
        """Make everything written so far durable on every node's file system."""
        for node in self.faults.mounts():
            await asyncio.to_thread(self.faults.sync_all, node)

    async def aclose(self) -> None:
        """Unmount everything (the nodes must be stopped) and remove the backing dirs."""
        await asyncio.to_thread(self.faults.unmount_all)

    # ------------------------------------------------------------ the Disk contract

    async def power_loss(self, nodes: Sequence[str]) -> dict[str, dict[str, Any]]:
        async with self._holding(nodes):
            dropped = await asyncio.to_thread(
                self.faults.power_loss_together, list(nodes), self._signal_kill()
            )
            for node in nodes:
                await self.runtime.kill(node)  # reap: down, as after ``kill``
        return dropped

    async def torn_write(self, node: str, rng: random.Random) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.torn_wait_s
        async with self._holding([node]):
            result = await self._tear(node, rng, deadline)
            if result is None:
                dropped = await asyncio.to_thread(
                    self.faults.power_loss_together, [node], self._signal_kill()
                )
                why = f"no unsynced write of two bytes or more within {self.torn_wait_s:g} s"
                result = {"node": node, **dropped[node], "torn": None, "why": why}
            await self.runtime.kill(node)
        return result

    async def corrupt(
        self,
        node: str,
        rng: random.Random,
        *,
        mode: CorruptMode = "bitflip",
        pattern: str | None = None,
        bits: int = 1,
    ) -> dict[str, Any]:
        async with self._holding([node]):
            if self.runtime.is_running(node):
                raise SetupError(f"cannot corrupt the files of node {node}: it is running")
            return await asyncio.to_thread(
                self.faults.corrupt, node, rng, mode, pattern=pattern, bits=bits
            )

    # ------------------------------------------------------------ internals

    async def _tear(self, node: str, rng: random.Random, deadline: float) -> dict[str, Any] | None:
        """A torn write of one of the node's files with an unsynced write, drawn from
        ``rng``; None when none had one (of two bytes at least) before ``deadline``."""
        loop = asyncio.get_running_loop()
        kill = self._signal_kill()
        while True:
            status = await asyncio.to_thread(self.faults.status, node)
            paths = sorted(status.get("dirty_paths") or [])
            for path in rng.sample(paths, len(paths)):
                with contextlib.suppress(ControlError):  # synced meanwhile, or one byte
                    return await asyncio.to_thread(
                        self.faults.torn_write, node, path, rng, lambda: kill(node)
                    )
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(TORN_POLL_S)

    def _signal_kill(self) -> Callable[[str], None]:
        """``kill(node)`` for a worker thread: SIGKILL through the runtime, no waiting."""
        loop = asyncio.get_running_loop()

        def kill(node: str) -> None:
            done = asyncio.run_coroutine_threadsafe(self.runtime.signal(node, signal.SIGKILL), loop)
            done.result(SIGNAL_TIMEOUT_S)

        return kill

    @contextlib.asynccontextmanager
    async def _holding(self, nodes: Sequence[str]) -> AsyncIterator[None]:
        """The locks of ``nodes``, taken in a fixed order (no deadlock between faults)."""
        async with contextlib.AsyncExitStack() as stack:
            for node in sorted(set(nodes)):
                await stack.enter_async_context(self._locks.setdefault(node, asyncio.Lock()))
            yield
