"""Slow links: delay and jitter on every link, and the nemesis that does nothing.

Latency cuts nothing and stops nobody, so ``Fault.down`` and ``Fault.cut`` stay
empty: a majority is still up and connected, and an election that stalls under
latency alone is a liveness finding. The figures go into ``detail``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.nemeses._options import check_keys, parse_int

DEFAULT_LATENCY_MS = 100
DEFAULT_JITTER_MS = 50
#: A minute: longer delays are cuts (every peer times out), so say ``partition``.
MAX_LATENCY_MS = 60_000


class Latency:
    """Delay (plus uniform jitter) on every directed link to or from a target (every
    node by default)."""

    name = "latency"
    description = "add latency_ms of delay (+/- jitter_ms) on every link between nodes"
    default_targets = "all"

    def __init__(self) -> None:
        self.latency_ms = DEFAULT_LATENCY_MS
        self.jitter_ms = DEFAULT_JITTER_MS

    def configure(self, options: Mapping[str, str]) -> None:
        """``latency_ms`` and ``jitter_ms``; unknown options are a ``ConfigError``."""
        check_keys(self.name, options, ("latency_ms", "jitter_ms"))
        if "latency_ms" in options:
            value = options["latency_ms"]
            self.latency_ms = parse_int(self.name, "latency_ms", value, maximum=MAX_LATENCY_MS)
        if "jitter_ms" in options:
            value = options["jitter_ms"]
            self.jitter_ms = parse_int(self.name, "jitter_ms", value, maximum=MAX_LATENCY_MS)

    def check_cluster(self, nodes: int) -> None:
        """Any cluster: one of a single node has no link to slow (nothing to do)."""

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        hit = set(targets)
        links = sorted(link for link in ctx.network.links() if hit & set(link))
        if not links:
            return None
        await ctx.network.delay(links, self.latency_ms, self.jitter_ms)
        detail = {"latency_ms": self.latency_ms, "jitter_ms": self.jitter_ms, "links": len(links)}
        return Fault(fault=self.name, detail=detail, state=links)

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        links = fault.state if fault.state is not None else sorted(ctx.network.links())
        await ctx.network.undelay(links)


class NoFault:
    """Observations only: lets a run measure a healthy cluster with the same machinery."""

    name = "none"
    description = "no fault at all (a baseline run)"
    default_targets = "all"

    def configure(self, options: Mapping[str, str]) -> None:
        check_keys(self.name, options, ())

    def check_cluster(self, nodes: int) -> None:
        """Any cluster."""

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        return None

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        return None
