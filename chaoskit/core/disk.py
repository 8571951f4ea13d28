"""The Disk part: faults of the nodes' storage, below the process (power loss, torn writes,
corruption).

A kill never loses what a node wrote and did not sync: the kernel still holds it and
writes it back. A power loss does. When a disk nemesis is planned, the run puts a
fault file system under every node's data directory (``chaoskit.disk``) that keeps
unsynced writes in memory, and hands the nemeses a ``Disk`` through
``NemesisContext.disk``. ``power_loss`` and ``torn_write`` leave the node down, as
``Runtime.kill`` does; the nemesis restarts it with ``Runtime.start`` when it heals.

A nemesis declares that it needs the disk by ``needs_disk = True`` (``DiskNemesis``):
the run then mounts the file systems before any node starts, or fails at once with one
line saying what is missing (FUSE, root, a runtime that cannot do it).

Implementation: ``chaoskit.disk.nodes.NodeDisks`` (a fault file system per node, the
runtime's signal-only kill behind the power loss).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

CorruptMode = Literal["bitflip", "truncate"]
CORRUPT_MODES: tuple[CorruptMode, ...] = ("bitflip", "truncate")


@runtime_checkable
class Disk(Protocol):
    """Disk faults of the run's nodes; each call is one fault, applied at once."""

    async def power_loss(self, nodes: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Cut the power of ``nodes`` at one instant: each node dies and loses every
        write it did not sync. Returns, per node, what was dropped. The nodes stay
        down until ``Runtime.start``."""

    async def torn_write(self, node: str, rng: random.Random) -> dict[str, Any]:
        """A power loss of ``node`` while a file it wrote was being written back: that
        file's last unsynced write reaches the disk only in part (file and fraction
        drawn from ``rng``). Says which file and how much survived, or why nothing
        could be torn (then it was a plain power loss)."""

    async def corrupt(
        self,
        node: str,
        rng: random.Random,
        *,
        mode: CorruptMode = "bitflip",
        pattern: str | None = None,
        bits: int = 1,
    ) -> dict[str, Any]:
        """Corrupt one file of a node that is down (flip ``bits`` bits, or cut it short),
        drawn from ``rng`` among its files matching the glob ``pattern``; says what was
        done. The node reads the damage when it restarts."""


@runtime_checkable
class DiskNemesis(Protocol):
    """A nemesis that injects disk faults (through ``NemesisContext.disk``)."""

    needs_disk: bool


def needs_disk(nemeses: Iterable[object]) -> bool:
    """Does any of these nemeses need the disk? (Faults applied together, ``a&b``,
    declare it when one of their parts does.)"""
    return any(isinstance(n, DiskNemesis) and n.needs_disk for n in nemeses)
