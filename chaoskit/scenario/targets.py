"""Target selectors: whom a fault hits, resolved to node ids when its step fires.

A step's ``targets`` is either a selector or a list of node ids and single-node roles:

- roles, one node each, by what it is at that moment: ``leader`` (the observer's
  current leader), ``old-leader`` (the leader before it), ``follower`` (a random node
  that is not the leader). A role nobody holds falls back to a random node, and the
  tape says so (``fallback``);
- random groups: ``one``, ``minority`` (1 to the largest minority), ``half`` (the
  smaller half), ``majority``, ``all`` (every node, in a random order), ``random``
  (any non-empty subset), or a number of nodes.

Every draw comes from the generator it is given (the nemesis's own, seeded by the
run's seed) and from sorted ids, so a seed gives the same victims. Nodes come back in
the order drawn: the order matters to the nemeses whose fault has a shape (the ring of
``partition-majorities-ring``, the bridge of ``partition-bridge``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Protocol

from chaoskit.core.nemesis import GROUPS, ROLES, selector_problem
from chaoskit.errors import ConfigError
from chaoskit.scenario.model import Targets

__all__ = ["GROUPS", "ROLES", "Leaders", "Resolved", "check", "check_nodes", "resolve"]


class Leaders(Protocol):
    """The leader stream as the selectors read it."""

    @property
    def current(self) -> str | None: ...

    @property
    def previous(self) -> str | None: ...


@dataclass(frozen=True)
class Resolved:
    """Targets resolved: the nodes, in the order drawn, and whether a role fell back."""

    nodes: tuple[str, ...]
    fallback: bool = False


def check(targets: Targets) -> str | None:
    """Why ``targets`` is not a valid value (a one-line reason), or ``None``."""
    if isinstance(targets, str):
        problem = selector_problem(targets)
        return problem and problem + " nor a list of nodes"
    if not targets:
        return "an empty list names no node"
    for item in targets:
        if not isinstance(item, str) or not item:
            return f"{item!r} is not a node id or a role"
        if item in GROUPS:
            return f"'{item}' is a group: write targets = \"{item}\", not in a list"
    return None


def check_nodes(targets: Targets, ids: list[str]) -> None:
    """A ``ConfigError`` when explicit targets name a node the cluster does not have."""
    if isinstance(targets, str):
        return
    unknown = [t for t in targets if t not in ROLES and t not in ids]
    if unknown:
        raise ConfigError(
            f"targets name no such node: {', '.join(unknown)} (nodes: {', '.join(ids)})"
        )


def resolve(targets: Targets, ids: list[str], rng: random.Random, leaders: Leaders) -> Resolved:
    """The node ids ``targets`` names now."""
    ordered = sorted(ids)
    if not ordered:
        return Resolved(())
    if isinstance(targets, str) and targets not in ROLES:
        return Resolved(tuple(_group(targets, ordered, rng)))
    items = (targets,) if isinstance(targets, str) else targets
    nodes: list[str] = []
    fallback = False
    for item in items:
        node, fell = _one(item, ordered, rng, leaders) if item in ROLES else (item, False)
        fallback = fallback or fell
        if node not in nodes:
            nodes.append(node)
    return Resolved(tuple(nodes), fallback)


def count(selector: str, n: int, rng: random.Random) -> int:
    """How many nodes of ``n`` a group selector takes: never zero when there are nodes."""
    if n == 0:
        return 0
    if selector == "one":
        return 1
    if selector == "minority":
        return rng.randint(1, max(1, (n - 1) // 2))
    if selector == "half":
        return max(1, n // 2)
    if selector == "majority":
        return n // 2 + 1
    if selector == "all":
        return n
    return min(int(selector), n)


def _group(selector: str, ordered: list[str], rng: random.Random) -> list[str]:
    if selector == "random":
        return rng.sample(ordered, rng.randint(1, len(ordered)))
    k = count(selector, len(ordered), rng)
    shuffled = list(ordered)
    rng.shuffle(shuffled)
    return shuffled[:k]


def _one(role: str, ordered: list[str], rng: random.Random, leaders: Leaders) -> tuple[str, bool]:
    """One node for a role, and whether it fell back to a random node."""
    if role == "follower":
        others = [n for n in ordered if n != leaders.current] or ordered
        return rng.choice(others), False
    node = leaders.current if role == "leader" else leaders.previous
    if node in ordered:
        return str(node), False
    return rng.choice(ordered), True
