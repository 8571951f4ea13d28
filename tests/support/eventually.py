"""Waiting in tests for a condition, never for a fixed time.

The machine running the suite may be loaded (2 cores, CI, other runs): a test that
sleeps a guessed time is slow when the guess is long and flaky when it is short. These
helpers poll a condition instead, with a generous deadline, and say what they waited
for when it never came.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")
#: Generous: the machine has 2 cores shared with other test runs.
DEFAULT_TIMEOUT_S = 60.0


def eventually(
    check: Callable[[], T],
    what: str = "the condition",
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = 0.05,
) -> T:
    """Call ``check`` until it returns something true; return that value.

    ``AssertionError`` naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


async def async_eventually(
    check: Callable[[], T | Awaitable[T]],
    what: str = "the condition",
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = 0.05,
) -> T:
    """``eventually`` inside an event loop; ``check`` may be a coroutine function."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(interval)
