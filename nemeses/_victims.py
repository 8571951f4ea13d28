"""Choosing victims: how many nodes to hit, which ones, and who leads right now.

All choices come from the nemesis context's seeded generator, from sorted ids, so
the same seed picks the same victims. The leader is the observer's current belief;
when nobody leads, a random node is taken instead and the detail says so.
"""

from __future__ import annotations

import random
from typing import Any

from chaoskit.core.nemesis import NemesisContext
from chaoskit.nemeses._grudges import majority, shuffled


def victim_count(count: str | int, n: int, rng: random.Random) -> int:
    """The number of victims among ``n`` nodes: never zero when there are nodes.

    ``minority`` draws between 1 and the largest minority (at least 1, so a
    2-node cluster still loses a node); a fixed number is capped at ``n``.
    """
    if n == 0:
        return 0
    if count == "one":
        return 1
    if count == "majority":
        return majority(n)
    if count == "all":
        return n
    if count == "minority":
        return rng.randint(1, max(1, (n - 1) // 2))
    return min(int(count), n)


def pick(ids: list[str], count: str | int, rng: random.Random) -> list[str]:
    """A random set of victims of the requested size, sorted."""
    k = victim_count(count, len(ids), rng)
    return sorted(shuffled(ids, rng)[:k])


def leader_or_fallback(ctx: NemesisContext) -> tuple[str | None, dict[str, Any]]:
    """The current leader, or a random node when nobody leads; with the detail to log.

    Returns ``(node, detail)``; ``node`` is None only for an empty cluster.
    """
    ids = sorted(ctx.ids)
    leader = ctx.leader.current_leader()
    if leader in ids:
        return leader, {"leader": leader, "fallback": False}
    if not ids:
        return None, {"leader": None, "fallback": True}
    return ctx.rng.choice(ids), {"leader": None, "fallback": True}
