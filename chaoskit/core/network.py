"""The Network part: per-direction control of the links between nodes.

A link is a directed pair ``(src, dst)``: cutting ``a -> b`` stops what ``a`` sends
to ``b`` and nothing else, so one-way partitions keep their meaning.

- ``cut`` mode ``cut``: connections are refused and reset (peers notice at once);
- ``cut`` mode ``hang``: TCP stays up and nothing is relayed (peers notice only by
  their own time-outs);
- ``delay``: latency and jitter on the link.

Implementations (``chaoskit.network``): through a Toxiproxy-compatible API (the
embedded proxy or a real Toxiproxy, toxiproxy.py) and iptables rules inside the
node containers (iptables.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

LinkMode = Literal["cut", "hang"]
Link = tuple[str, str]


@runtime_checkable
class Network(Protocol):
    """Per-direction link control between the nodes of one run."""

    def links(self) -> list[Link]:
        """Every directed link between two nodes that this network controls."""

    async def cut(self, links: Sequence[Link], mode: LinkMode = "cut") -> None:
        """Cut (or hang) each link; idempotent."""

    async def heal(self, links: Sequence[Link] | None = None) -> None:
        """Heal the given cut or hung links, or every one."""

    async def delay(self, links: Sequence[Link], latency_ms: int, jitter_ms: int) -> None:
        """Add latency to each link (a ``ConfigError`` where the network cannot)."""

    async def undelay(self, links: Sequence[Link] | None = None) -> None:
        """Remove the latency of the given links, or of every one."""

    async def heal_all(self) -> None:
        """Undo every fault this network applied (the final phase and every exit path)."""

    def faulty_links(self) -> list[Link]:
        """The links with a fault applied now (empty once everything is healed)."""

    async def close(self) -> None:
        """Release what the network created (proxies, rules); nothing may remain."""
