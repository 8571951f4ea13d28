"""A fixed-rate tick loop: the shell's only source of protocol time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def tick_loop(interval_s: float, tick: Callable[[], None]) -> None:
    """Call ``tick`` every ``interval_s``; ticks missed (a pause, a busy loop) are skipped.

    Skipping rather than bursting keeps a node resumed after SIGSTOP from firing a
    burst of ticks that would start an election at once.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    while True:
        deadline += interval_s
        delay = deadline - loop.time()
        if delay < -interval_s:
            deadline = loop.time()
            delay = 0.0
        await asyncio.sleep(max(0.0, delay))
        tick()
