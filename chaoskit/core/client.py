"""The Client part: how a workload's operations reach a service that does not speak HTTP.

A target may give each logical client process an object of its own (``Target.client``):
opened against the node the process talks to, asked to ``invoke`` operations, closed
when the process moves on. Each method may be plain or ``async``. The engine runs it
with time-outs (``chaoskit.clients.plugin``): an exception in ``invoke`` makes the
operation ``info`` (unknown), ``OpFailed`` makes it ``fail`` (certainly not done).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, runtime_checkable

from chaoskit.core.target import NodeInfo


class OpFailed(Exception):
    """Raised by a client's ``invoke``: the operation certainly did not take effect.

    ``redirect`` may name the node (a chaoskit node id) the refusing node says leads;
    the client runner then sends that process's next operation there.
    """

    def __init__(self, message: str = "", *, redirect: str | None = None) -> None:
        super().__init__(message)
        self.redirect = redirect


@runtime_checkable
class Client(Protocol):
    """What a client class provides; each method may also be ``async def``."""

    def open(self, node: NodeInfo) -> Awaitable[None] | None:
        """Connect to ``node``; raising means the op that needed it was never sent."""

    def invoke(self, op: Mapping[str, Any]) -> Any:
        """Carry out ``op``: an ``Outcome``, or a plain value meaning ``ok``."""

    def close(self) -> Awaitable[None] | None:
        """Release the connection; errors here are ignored."""
