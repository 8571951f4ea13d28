"""The Nemesis part: one fault family, configured, started and stopped.

Faults are data: a nemesis picks its victims from the run's seeded random generator,
then returns a ``Fault`` saying what it did. The controller writes it to
``nemesis.jsonl`` and later hands it back to ``stop`` to heal it. ``down`` (nodes made
unavailable) and ``cut`` (directed links cut, ``[src, dst]``) are what the checkers read
to know whether a majority was up and connected.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from chaoskit.core.clock import Clock
from chaoskit.core.disk import Disk
from chaoskit.core.network import Network
from chaoskit.core.runtime import Runtime
from chaoskit.core.target import NodeInfo


@dataclass
class Fault:
    """One applied fault: what the log records and what ``stop`` needs to heal it."""

    fault: str
    detail: dict[str, Any] = field(default_factory=dict)
    down: list[str] = field(default_factory=list)
    cut: list[tuple[str, str]] = field(default_factory=list)
    #: Private state for ``stop`` (not recorded).
    state: Any = None


class LeaderView(Protocol):
    """What the observer currently believes: who leads right now, if anyone."""

    def current_leader(self) -> str | None: ...


@dataclass
class NemesisContext:
    """Everything a nemesis may touch during a run."""

    nodes: list[NodeInfo]
    rng: random.Random
    runtime: Runtime
    network: Network
    leader: LeaderView
    clock: Clock | None = None
    #: Disk faults of the nodes, when a nemesis of the run declared ``needs_disk``.
    disk: Disk | None = None

    @property
    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]


@runtime_checkable
class Nemesis(Protocol):
    """A fault family: ``start`` applies one fault, ``stop`` heals it."""

    name: str
    description: str

    def configure(self, options: Mapping[str, str]) -> None:
        """Take ``NAME:key=value;...`` options; a ``ConfigError`` for unknown ones."""

    def check_cluster(self, nodes: int) -> None:
        """Refuse, with a ``ConfigError``, options that a cluster of ``nodes`` nodes cannot
        honour (``kill:count=9`` on 5 nodes). Called once the run is planned, before
        anything starts: ``configure`` cannot know the cluster size."""

    async def start(self, ctx: NemesisContext) -> Fault | None:
        """Apply one fault and say what it did; ``None`` when nothing could be done."""

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        """Heal what ``start`` did."""
