"""Where the command line writes, and how it runs a coroutine under Ctrl-C."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from rich.console import Console

T = TypeVar("T")
out = Console()
err = Console(stderr=True)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; Ctrl-C and SIGTERM cancel it once, so its cleanup paths run.

    Later signals are ignored while the run heals and stops everything: a second
    Ctrl-C must not leave a partition or a process behind. (Our own handler also
    works when the shell started us with SIGINT ignored, as for background jobs.)
    """

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        signalled: list[int] = []

        def on_signal(signum: int) -> None:
            if not signalled:
                task.cancel()
            else:
                err.print("still cleaning up: chaoskit stops every node and fault first")
            signalled.append(signum)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        return await coro

    return asyncio.run(main())
