"""Network partitions: directed link cuts through the fault proxy.

The engine hands each nemesis its targets (node ids, in the order drawn); the nemesis
turns them into a topology with the pure functions in ``_grudges`` and asks the network
to cut exactly those links, as ``cut`` (refuse and reset: peers notice at once) or
``hang`` (silent: peers notice only by time-outs), chosen with ``mode=``. What the
targets are: one side of the cut (``partition``, ``partition-oneway``: the side whose
traffic is cut), the isolated nodes (``isolate``), the ring in its order
(``partition-majorities-ring``), one side then the bridge (``partition-bridge``).
``Fault.cut`` lists every directed link cut, and stop heals exactly those.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.core.network import LinkMode
from chaoskit.nemeses import _grudges as g
from chaoskit.nemeses._options import DIRECTIONS, check_keys, parse_choice, parse_mode

Plan = tuple[list[g.Link], dict[str, Any]]


class _Partition:
    """Shared shape: plan links and a detail, cut them, heal exactly them on stop."""

    name = ""
    description = ""
    default_targets = "half"
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

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        ids = set(ctx.ids)
        planned, detail = self._plan(ctx, [t for t in dict.fromkeys(targets) if t in ids])
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

    def _plan(self, ctx: NemesisContext, targets: list[str]) -> Plan:
        raise NotImplementedError


def _rest(ctx: NemesisContext, side: list[str]) -> list[str]:
    return sorted(set(ctx.ids) - set(side))


class Partition(_Partition):
    """The targets (by default a random smaller half) against the rest, both ways."""

    name = "partition"
    description = "cut the cluster into two random halves (mode=cut|hang)"

    def _plan(self, ctx: NemesisContext, targets: list[str]) -> Plan:
        groups = [sorted(targets), _rest(ctx, targets)]
        return g.links_between_groups(groups), {"groups": groups}


class PartitionOneWay(_Partition):
    """Only the traffic from the targets (a random smaller half) to the rest is cut."""

    name = "partition-oneway"
    description = "cut only the traffic from one random half to the other (mode=cut|hang)"

    def _plan(self, ctx: NemesisContext, targets: list[str]) -> Plan:
        src, dst = sorted(targets), _rest(ctx, targets)
        return g.links_one_way(src, dst), {"groups": [src, dst], "from": src, "to": dst}


class PartitionMajoritiesRing(_Partition):
    """Every node of the ring (the targets, in order; all nodes by default) sees a
    majority of it, no two the same one; nodes outside the ring keep every link."""

    name = "partition-majorities-ring"
    description = "each node sees a different majority of its ring neighbours (mode=cut|hang)"
    default_targets = "all"

    def _plan(self, ctx: NemesisContext, targets: list[str]) -> Plan:
        grudge = g.ring_grudge(targets)
        return g.grudge_links(grudge), {"ring": targets, "grudge": grudge}


class PartitionBridge(_Partition):
    """Two halves joined by one node that hears both: the targets are one side, then
    the bridge (by default a random majority: the smaller half and the bridge)."""

    name = "partition-bridge"
    description = "two random halves with one bridge node connected to both (mode=cut|hang)"
    default_targets = "majority"

    def _plan(self, ctx: NemesisContext, targets: list[str]) -> Plan:
        if len(targets) < 2:
            return [], {}
        side, bridge = targets[:-1], targets[-1]
        groups = [sorted(side), [bridge, *_rest(ctx, targets)]]
        grudge = g.bridge_grudge(groups)
        detail = {"groups": [sorted(x) for x in groups], "bridge": bridge, "grudge": grudge}
        return g.grudge_links(grudge), detail


class Isolate(_Partition):
    """Each target (one random node by default) cut off from every other node;
    ``direction=both|in|out`` for asymmetric variants."""

    name = "isolate"
    description = "cut one random node off from all others (direction=both|in|out, mode=cut|hang)"
    default_targets = "one"
    options = ("mode", "direction")

    def __init__(self) -> None:
        super().__init__()
        self.direction = "both"

    def _configure(self, options: Mapping[str, str]) -> None:
        if "direction" in options:
            self.direction = parse_choice(self.name, "direction", options["direction"], DIRECTIONS)

    def _plan(self, ctx: NemesisContext, targets: list[str]) -> Plan:
        if not targets:
            return [], {}
        links = sorted({link for n in targets for link in g.links_of(n, ctx.ids, self.direction)})
        detail: dict[str, Any] = {
            "node": targets[0],
            "nodes": sorted(targets),
            "direction": self.direction,
        }
        if len(targets) == 1:
            detail["groups"] = g.isolate(targets[0], ctx.ids)
        return links, detail


class IsolateLeader(Isolate):
    """``isolate`` aimed at the current leader: the classic split-brain trigger."""

    name = "isolate-leader"
    description = "cut the current leader off from all others (a random node if none)"
    default_targets = "leader"
