"""The Nemesis part: one fault family, configured, applied to given nodes, healed.

A nemesis never chooses its victims: the scenario engine resolves each step's targets
(a role such as ``leader``, a random group such as ``minority``, or node ids) at the
moment the step fires, records them on the tape, and hands the node ids to ``start``;
``default_targets`` is the selector used when a step names none (``kill`` hits a
``minority``, ``isolate-leader`` the ``leader``). ``start`` returns a ``Fault`` saying
what it did; the controller writes it to ``nemesis.jsonl`` and later hands it back to
``stop`` to heal it. ``down`` (nodes made unavailable) and ``cut`` (directed links cut,
``[src, dst]``) are what the checkers read to know whether a majority was up and
connected.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from chaoskit.core.clock import Clock
from chaoskit.core.disk import Disk
from chaoskit.core.network import Network
from chaoskit.core.runtime import Runtime
from chaoskit.core.target import NodeInfo

#: Target selectors naming one node by what it is when the step fires.
ROLES = ("leader", "old-leader", "follower")
#: Target selectors drawing a random group from the nemesis's seeded generator.
GROUPS = ("one", "minority", "half", "majority", "all", "random")


def selector_problem(value: str) -> str | None:
    """Why ``value`` is not a target selector (a role, a group or a number), or None."""
    if value in ROLES or value in GROUPS:
        return None
    if value.isascii() and value.isdigit() and int(value) > 0:
        return None
    return (
        f"'{value}' is not a selector: it must be a positive number or one of "
        f"{', '.join((*ROLES, *GROUPS))}"
    )


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
    """Everything a nemesis may touch during a run. ``rng`` is the nemesis's own
    generator, seeded by the run's seed, for draws other than victims (an offset)."""

    nodes: list[NodeInfo]
    rng: random.Random
    runtime: Runtime
    network: Network
    clock: Clock | None = None
    #: Disk faults of the nodes, when a nemesis of the run declared ``needs_disk``.
    disk: Disk | None = None

    @property
    def ids(self) -> list[str]:
        return [n.id for n in self.nodes]


@runtime_checkable
class Nemesis(Protocol):
    """A fault family: ``start`` applies one fault to the given nodes, ``stop`` heals it."""

    name: str
    description: str
    #: Whom a fault hits when a step names no targets: a selector of
    #: ``chaoskit.scenario.targets`` (``minority``, ``leader``, ``half``, ``all``, ...).
    default_targets: str

    def configure(self, options: Mapping[str, str]) -> None:
        """Take ``NAME:key=value;...`` options; a ``ConfigError`` for unknown ones."""

    def check_cluster(self, nodes: int) -> None:
        """Refuse, with a ``ConfigError``, options that a cluster of ``nodes`` nodes cannot
        honour (``kill:count=9`` on 5 nodes). Called once the run is planned, before
        anything starts: ``configure`` cannot know the cluster size."""

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        """Apply one fault to ``targets`` (node ids, in the order drawn; what they mean
        is the nemesis's to say: the victims, one side of a cut, the ring's order) and
        say what it did; ``None`` when nothing could be done."""

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        """Heal what ``start`` did."""
