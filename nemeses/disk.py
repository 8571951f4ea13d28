"""Disk faults: power loss, torn writes and corrupted files, through the run's ``Disk``.

=========================== =====================================================
``power-loss``              cut the power of a random minority (``count=``) at one
                            instant: they die and lose every write they did not sync
``power-loss-majority``     the same, a random majority
``power-loss-all``          every node at once: the coordinated power failure
``power-loss-leader``       the current leader (a random node when nobody leads)
``torn-write``              a power loss of one node (``count=``) while a file it
                            wrote was being written back: its last unsynced write
                            survives only in part
``corrupt-minority``        kill a random minority and corrupt one file of each
                            (``mode=bitflip|truncate``, ``pattern=GLOB``, ``bits=N``)
=========================== =====================================================

Every victim stays down for the fault and is restarted when it heals, on the same
data directory, as after ``kill``; the victims go into ``Fault.down``. The detail says
what each victim lost (``dropped``: files with unsynced data, their bytes, metadata
operations) or what was done to its file (``corrupted``).

These nemeses declare ``needs_disk``: the run mounts a fault file system
(chaoskit/disk) under every node's data directory before the nodes start, and fails at
once when it cannot. A kill never shows what they show: the kernel of a killed
process's machine still holds its unsynced writes, and writes them back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from chaoskit.core.disk import CORRUPT_MODES, CorruptMode, Disk
from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.errors import SetupError
from chaoskit.nemeses._options import TargetedOptions, parse_choice, parse_int


def require_disk(ctx: NemesisContext, nemesis: str) -> Disk:
    """The run's Disk, or a ``SetupError`` that says how to get one."""
    if ctx.disk is None:
        raise SetupError(
            f"nemesis '{nemesis}' needs the nodes' data directories on fault file systems: "
            "name it in the run's nemeses (--nemesis) so they are mounted before the nodes start"
        )
    return ctx.disk


class _DiskFault(TargetedOptions):
    """Shared shape: parse options, pick victims, fault them; stop restarts them."""

    name = ""
    description = ""
    needs_disk = True
    options: tuple[str, ...] = ()
    #: Victims by default: a target selector (``count=`` when among the options).
    default_targets = "minority"

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        disk = require_disk(ctx, self.name)
        victims = sorted(set(targets) & set(ctx.ids))
        if not victims:
            return None
        done = await self._apply(ctx, disk, victims)
        detail = {"nodes": victims, **done}
        return Fault(fault=self.name, detail=detail, down=list(victims))

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        for node in fault.down:
            await ctx.runtime.start(node)

    async def _apply(self, ctx: NemesisContext, disk: Disk, victims: list[str]) -> dict[str, Any]:
        raise NotImplementedError


class PowerLoss(_DiskFault):
    """A random minority (``count=``) loses power at one instant."""

    name = "power-loss"
    description = "power failure of a random minority: unsynced writes lost; restart at heal"
    options: tuple[str, ...] = ("count",)
    default_targets = "minority"

    async def _apply(self, ctx: NemesisContext, disk: Disk, victims: list[str]) -> dict[str, Any]:
        dropped = await disk.power_loss(victims)
        return {"action": "power-loss", "dropped": {n: _lost(dropped[n]) for n in victims}}


class PowerLossMajority(PowerLoss):
    """A random majority loses power at one instant."""

    name = "power-loss-majority"
    description = "power failure of a random majority at one instant; restart them at heal"
    options = ()
    default_targets = "majority"


class PowerLossAll(PowerLoss):
    """Every node loses power at one instant: the coordinated power failure."""

    name = "power-loss-all"
    description = "power failure of every node at one instant (coordinated); restart at heal"
    options = ()
    default_targets = "all"


class PowerLossLeader(PowerLoss):
    """The current leader loses power."""

    name = "power-loss-leader"
    description = "power failure of the current leader (a random node if none); restart it"
    options = ()
    default_targets = "leader"


class TornWrite(_DiskFault):
    """One node (``count=``) loses power while a file it wrote was being written back."""

    name = "torn-write"
    description = "power failure of one node mid write-back: its last write survives in part"
    options = ("count",)
    default_targets = "one"

    async def _apply(self, ctx: NemesisContext, disk: Disk, victims: list[str]) -> dict[str, Any]:
        torn = {node: await disk.torn_write(node, ctx.rng) for node in victims}
        return {"action": "torn-write", "torn": {n: _tear(torn[n]) for n in victims}}


class CorruptMinority(_DiskFault):
    """Kill a random minority and corrupt one file of each; they restart on it at heal."""

    name = "corrupt-minority"
    description = "kill a random minority, flip bits in (or truncate) a file of each; restart"
    options = ("mode", "pattern", "bits")
    default_targets = "minority"

    def __init__(self) -> None:
        self.mode: CorruptMode = "bitflip"
        self.pattern: str | None = None
        self.bits = 1

    def _configure(self, options: Mapping[str, str]) -> None:
        if "mode" in options:
            mode = parse_choice(self.name, "mode", options["mode"], CORRUPT_MODES)
            self.mode = "truncate" if mode == "truncate" else "bitflip"
        if "pattern" in options:
            self.pattern = options["pattern"] or None
        if "bits" in options:
            self.bits = parse_int(self.name, "bits", options["bits"], minimum=1)

    async def _apply(self, ctx: NemesisContext, disk: Disk, victims: list[str]) -> dict[str, Any]:
        corrupted: dict[str, Any] = {}
        for node in victims:
            await ctx.runtime.kill(node)
            corrupted[node] = await disk.corrupt(
                node, ctx.rng, mode=self.mode, pattern=self.pattern, bits=self.bits
            )
        return {"action": "kill+corrupt", "corrupted": corrupted}


def _lost(result: Mapping[str, Any]) -> dict[str, Any]:
    """What one node's power loss dropped, for the fault log."""
    return {
        "files": result.get("dropped_files", 0),
        "bytes": result.get("dropped_bytes", 0),
        "ops": result.get("dropped_ops", 0),
    }


def _tear(result: Mapping[str, Any]) -> dict[str, Any]:
    """What one torn write did: the file and how much of its last write survived."""
    return {
        **_lost(result),
        "torn": result.get("torn"),
        **({"why": result["why"]} if "why" in result else {}),
    }
