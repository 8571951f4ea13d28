"""The Nemesis part: one fault family, started and stopped.

Faults are data: a nemesis picks its victims from the run's seeded
random generator, then returns a ``Fault`` saying what it did. The controller
writes it to ``nemesis.jsonl`` and later hands it back to ``stop`` to heal it.
``down`` (nodes made unavailable) and ``cut`` (directed links cut, ``[src, dst]``)
are what the checkers read to know whether a majority was up and connected.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from chaoskit.core.runtime import Runtime
from chaoskit.core.target import NodeInfo

LinkMode = Literal["cut", "hang"]


@dataclass
class Fault:
    """One applied fault: what the log records and what ``stop`` needs to heal it."""

    fault: str
    detail: dict[str, Any] = field(default_factory=dict)
    down: list[str] = field(default_factory=list)
    cut: list[tuple[str, str]] = field(default_factory=list)
    #: Private state for ``stop`` (not recorded).
    state: Any = None


class Network(Protocol):
    """Per-direction link control between nodes."""

    async def cut(self, links: Sequence[tuple[str, str]], mode: LinkMode = "cut") -> None: ...
    async def heal(self, links: Sequence[tuple[str, str]] | None = None) -> None: ...
    async def delay(
        self, links: Sequence[tuple[str, str]], latency_ms: int, jitter_ms: int
    ) -> None: ...
    async def undelay(self, links: Sequence[tuple[str, str]]) -> None: ...
    def links(self) -> list[tuple[str, str]]:
        """Every directed link between two nodes that this network controls."""
        ...


class LeaderView(Protocol):
    """What the observer currently believes: who leads right now, if anyone."""

    def current_leader(self) -> str | None: ...


class Clock(Protocol):
    """Per-node clock offset and rate."""

    def set(self, node: str, offset_s: float = 0.0, rate: float = 1.0) -> None: ...
    def reset(self, node: str | None = None) -> None: ...


@dataclass
class NemesisContext:
    """Everything a nemesis may touch during a run."""

    nodes: list[NodeInfo]
    rng: random.Random
    runtime: Runtime
    network: Network
    leader: LeaderView
    clock: Clock | None = None

    @property
    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]


@runtime_checkable
class Nemesis(Protocol):
    """A fault family: ``start`` applies one fault, ``stop`` heals it."""

    name: str
    description: str

    async def start(self, ctx: NemesisContext) -> Fault | None:
        """Apply one fault and say what it did; ``None`` when nothing could be done."""

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        """Heal what ``start`` did."""
