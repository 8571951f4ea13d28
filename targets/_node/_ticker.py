"""A fixed-rate tick loop: the shell's only source of protocol time."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiohttp import web

from chaoskit.targets._node._args import NodeArgs
from chaoskit.targets._node._http import serve
from chaoskit.targets._node._sender import PeerSender


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


async def serve_with_ticker(
    app: web.Application, args: NodeArgs, sender: PeerSender, tick: Callable[[], None]
) -> None:
    """Serve ``app`` on ``--listen`` until SIGTERM while ``tick`` runs every ``--tick-ms``;
    then stop the ticker before closing the peer queues, so no tick sends into a closed
    sender."""
    await sender.start()
    ticker = asyncio.create_task(tick_loop(args.tick_ms / 1000.0, tick))
    try:
        await serve(app, args.host, args.port)
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        await sender.close()
