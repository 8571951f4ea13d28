"""The Clock part: the offset and rate of each node's clock.

A node started with ``env_for(node)`` in its environment sees the time the clock
says; ``set`` and ``reset`` change it while the node runs. The controller's own
timeline never uses a node's clock.

``set`` and ``reset`` are synchronous (the clock-strobe nemesis calls them every few
milliseconds) and may take effect a little later where the clock lives on another
machine; ``settle`` waits until every change made so far is in effect.

Implementations: libfaketime timestamp files on this machine (``chaoskit.clock``,
faketime.py) and on SSH hosts, or the hosts' own clocks (``chaoskit.remote``, clock.py).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Per-node clock offset and rate."""

    def env_for(self, node: str, *, node_dir: str | None = None) -> dict[str, str]:
        """Environment that makes ``node`` follow this clock (``node_dir``: where the
        node sees the clock files, inside a container)."""

    def set(self, node: str, offset_s: float = 0.0, rate: float = 1.0) -> None:
        """From now on, ``node`` sees the true time shifted by ``offset_s``, at ``rate``."""

    def reset(self, node: str | None = None) -> None:
        """``node`` (or every node) sees the true time again."""

    async def settle(self) -> None:
        """Return once every ``set`` and ``reset`` so far is in effect on the nodes (the
        final phase heals the clocks before it waits for a leader)."""

    def close(self) -> None:
        """Remove everything the clock wrote; nodes must be stopped first."""
