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

import math
from typing import Protocol, runtime_checkable

from chaoskit.errors import ConfigError

#: The widest offset a clock takes: 20 years either way. Past it a node's time leaves
#: what its libc, its TLS certificates and chaoskit's own records can represent
#: (``max_offset_s=1e30`` was once recorded as a 3.8e29 s offset).
MAX_OFFSET_S = 20 * 365 * 86_400.0
#: Clock speeds a clock takes: from a thousandth to a hundred times the true speed.
MIN_RATE = 0.001
MAX_RATE = 100.0


def check_setting(offset_s: float, rate: float) -> None:
    """A ``ConfigError`` unless ``offset_s`` and ``rate`` are within the bounds above:
    the last guard, whoever asks (nemeses check their options against the same bounds
    with messages that name the option)."""
    if not math.isfinite(offset_s) or abs(offset_s) > MAX_OFFSET_S:
        raise ConfigError(
            f"clock offset must be within +-{MAX_OFFSET_S:g} s (20 years), not {offset_s}"
        )
    if not (math.isfinite(rate) and MIN_RATE <= rate <= MAX_RATE):
        raise ConfigError(f"clock rate must be between {MIN_RATE:g} and {MAX_RATE:g}, not {rate}")


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
