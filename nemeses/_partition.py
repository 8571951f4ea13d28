"""Network partitions: directed link cuts through the fault proxy.

Each nemesis draws its topology from the pure functions in ``_grudges`` and asks
the network to cut exactly those links, as ``cut`` (refuse and reset: peers notice
at once) or ``hang`` (silent: peers notice only by time-outs), chosen with
``mode=``. ``Fault.cut`` lists every directed link cut, and stop heals exactly
those, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.core.network import LinkMode
from chaoskit.nemeses import _grudges as g
from chaoskit.nemeses._options import DIRECTIONS, check_keys, parse_choice, parse_mode
from chaoskit.nemeses._victims import leader_or_fallback

Plan = tuple[list[g.Link], dict[str, Any]]


class _Partition:
    """Shared shape: plan links and a detail, cut them, heal exactly them on stop."""

    name = ""
    description = ""
    options: tuple[str, ...] = ("mode",)

    def __init__(self) -> None:
        self.mode: LinkMode = "cut"

    def configure(self, options: Mapping[str, str]) -> None:
        """``mode=cut|hang``; unknown options are a ``ConfigError``."""
        check_keys(self.name, options, self.options)
        if "mode" in options:
            self.mode = parse_mode(self.name, options["mode"])
        self._configure(options)

    def _configure(self, options: Mapping[str, str]) -> None:
        pass

    def check_cluster(self, nodes: int) -> None:
        """Any cluster: one of a single node has no link to cut, and its faults are
        skipped as "nothing to do", as a cut that finds no controlled link is."""

    async def start(self, ctx: NemesisContext) -> Fault | None:
        planned, detail = self._plan(ctx)
        controlled = set(ctx.network.links())
        links = sorted(link for link in planned if link in controlled)
        if not links:
            return None
        await ctx.network.cut(links, self.mode)
        detail = {**detail, "mode": self.mode}
        return Fault(fault=self.name, detail=detail, cut=links)

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        if fault.cut:
            await ctx.network.heal(list(fault.cut))

    def _plan(self, ctx: NemesisContext) -> Plan:
        raise NotImplementedError


class Partition(_Partition):
    """Random halves, cut in both directions."""

    name = "partition"
    description = "cut the cluster into two random halves (mode=cut|hang)"

    def _plan(self, ctx: NemesisContext) -> Plan:
        groups = g.bisect(ctx.ids, ctx.rng)
        return g.links_between_groups(groups), {"groups": groups}


class PartitionOneWay(_Partition):
    """Random halves, but only the traffic from one half to the other is cut."""

    name = "partition-oneway"
    description = "cut only the traffic from one random half to the other (mode=cut|hang)"

    def _plan(self, ctx: NemesisContext) -> Plan:
        groups = g.bisect(ctx.ids, ctx.rng)
        src, dst = groups if ctx.rng.random() < 0.5 else groups[::-1]
        return g.links_one_way(src, dst), {"groups": groups, "from": src, "to": dst}


class PartitionMajoritiesRing(_Partition):
    """Every node sees a majority, no two the same one."""

    name = "partition-majorities-ring"
    description = "each node sees a different majority of its ring neighbours (mode=cut|hang)"

    def _plan(self, ctx: NemesisContext) -> Plan:
        ring = g.shuffled(ctx.ids, ctx.rng)
        grudge = g.ring_grudge(ring)
        return g.grudge_links(grudge), {"ring": ring, "grudge": grudge}


class PartitionBridge(_Partition):
    """Two halves joined by one node that hears both."""

    name = "partition-bridge"
    description = "two random halves with one bridge node connected to both (mode=cut|hang)"

    def _plan(self, ctx: NemesisContext) -> Plan:
        groups = g.halves(g.shuffled(ctx.ids, ctx.rng))
        grudge = g.bridge_grudge(groups)
        bridge = groups[1][0] if len(groups[1]) else None
        detail = {"groups": [sorted(x) for x in groups], "bridge": bridge, "grudge": grudge}
        return g.grudge_links(grudge), detail


class _Isolate(_Partition):
    """One node cut off; ``direction=both|in|out`` for asymmetric variants."""

    options = ("mode", "direction")

    def __init__(self) -> None:
        super().__init__()
        self.direction = "both"

    def _configure(self, options: Mapping[str, str]) -> None:
        if "direction" in options:
            self.direction = parse_choice(self.name, "direction", options["direction"], DIRECTIONS)

    def _isolate(self, node: str | None, ctx: NemesisContext, detail: dict[str, Any]) -> Plan:
        if node is None:
            return [], detail
        detail = {
            **detail,
            "node": node,
            "direction": self.direction,
            "groups": g.isolate(node, ctx.ids),
        }
        return g.links_of(node, ctx.ids, self.direction), detail


class Isolate(_Isolate):
    """One random node against the rest."""

    name = "isolate"
    description = "cut one random node off from all others (direction=both|in|out, mode=cut|hang)"

    def _plan(self, ctx: NemesisContext) -> Plan:
        ids = sorted(ctx.ids)
        node = ctx.rng.choice(ids) if ids else None
        return self._isolate(node, ctx, {})


class IsolateLeader(_Isolate):
    """The current leader against the rest: the classic split-brain trigger."""

    name = "isolate-leader"
    description = "cut the current leader off from all others (a random node if none)"

    def _plan(self, ctx: NemesisContext) -> Plan:
        node, detail = leader_or_fallback(ctx)
        return self._isolate(node, ctx, detail)
