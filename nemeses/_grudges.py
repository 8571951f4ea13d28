"""Partitions as data: pure functions from node ids to groups, grudges and links.

A *grudge* (Jepsen's word) maps each node to the nodes it no longer hears from.
A *link* is a directed pair ``(src, dst)``: traffic from ``src`` to ``dst``. The
fault proxy only applies links; everything here is drawn from the random
generator it is given and never touches a cluster, so it is unit tested alone::

    >>> groups = [["n1", "n2"], ["n3"]]
    >>> links_between_groups(groups)
    [('n1', 'n3'), ('n2', 'n3'), ('n3', 'n1'), ('n3', 'n2')]
    >>> links_one_way(["n1"], ["n3"])
    [('n1', 'n3')]
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence

Link = tuple[str, str]
#: node -> sorted nodes whose traffic it no longer receives.
Grudge = dict[str, list[str]]


def majority(n: int) -> int:
    """The smallest number of nodes that is more than half of ``n``."""
    return n // 2 + 1


def shuffled(ids: Iterable[str], rng: random.Random) -> list[str]:
    """A shuffled copy, from sorted input so the result depends on the seed only."""
    out = sorted(ids)
    rng.shuffle(out)
    return out


def halves(ordered: Sequence[str]) -> list[list[str]]:
    """Split in two, the smaller half first (5 nodes -> 2 and 3), order kept."""
    mid = len(ordered) // 2
    return [list(ordered[:mid]), list(ordered[mid:])]


def bisect(ids: Iterable[str], rng: random.Random) -> list[list[str]]:
    """Random halves: a minority group first, then a majority (or equal) group."""
    return [sorted(g) for g in halves(shuffled(ids, rng))]


def isolate(node: str, ids: Iterable[str]) -> list[list[str]]:
    """``node`` alone against everyone else."""
    return [[node], sorted(i for i in ids if i != node)]


def complete_grudge(groups: Sequence[Sequence[str]]) -> Grudge:
    """Every node holds a grudge against every node outside its own group."""
    everyone = {n for g in groups for n in g}
    return {n: sorted(everyone - set(g)) for g in groups for n in g}


def grudge_links(grudge: Mapping[str, Iterable[str]]) -> list[Link]:
    """The directed links a grudge cuts: ``(src, dst)`` for each src that dst ignores."""
    return sorted({(src, dst) for dst, srcs in grudge.items() for src in srcs if src != dst})


def links_between_groups(groups: Sequence[Sequence[str]]) -> list[Link]:
    """Every directed link that crosses from one group to another (both directions)."""
    return grudge_links(complete_grudge(groups))


def links_one_way(sources: Iterable[str], destinations: Iterable[str]) -> list[Link]:
    """Only traffic from ``sources`` to ``destinations``: an asymmetric partition."""
    dsts = sorted(set(destinations))
    return sorted({(s, d) for s in set(sources) for d in dsts if s != d})


def links_of(node: str, ids: Iterable[str], direction: str = "both") -> list[Link]:
    """The links of ``node``: ``in`` (* -> node), ``out`` (node -> *) or ``both``.

    Isolating a node needs ``both``: many systems (etcd) have the leader dial out,
    so cutting only what it receives is not a partition (seen on etcd 3.4).
    """
    others = [i for i in ids if i != node]
    links: list[Link] = []
    if direction in ("in", "both"):
        links += links_one_way(others, [node])
    if direction in ("out", "both"):
        links += links_one_way([node], others)
    return sorted(links)


def ring_grudge(ring: Sequence[str]) -> Grudge:
    """Each node sees a majority: itself and its nearest neighbours on ``ring``.

    Every node is in a majority, yet no two nodes see the same majority, so any
    leader a majority elects is doubted by someone (Jepsen's majorities ring). With
    an even majority size the windows are lopsided, so some cuts are one-way.
    """
    n = len(ring)
    if n == 0:
        return {}
    m = majority(n)
    everyone = set(ring)
    grudge: Grudge = {}
    for start in range(n):
        window = [ring[(start + k) % n] for k in range(m)]
        grudge[window[m // 2]] = sorted(everyone - set(window))
    return grudge


def majorities_ring(ids: Iterable[str], rng: random.Random) -> Grudge:
    """A majorities ring over a random order of ``ids``."""
    return ring_grudge(shuffled(ids, rng))


def bridge_grudge(groups: Sequence[Sequence[str]]) -> Grudge:
    """Two halves joined by one node (first of the second group) that hears both.

    The bridge node can win votes on both sides, so both sides may form a majority
    with it at different times.
    """
    if len(groups) != 2 or not groups[1]:
        return complete_grudge(groups)
    bridge_node = groups[1][0]
    grudge = complete_grudge(groups)
    grudge[bridge_node] = []
    return {n: [s for s in srcs if s != bridge_node] for n, srcs in grudge.items()}


def bridge(ids: Iterable[str], rng: random.Random) -> Grudge:
    """A bridge partition over random halves of ``ids``."""
    return bridge_grudge(halves(shuffled(ids, rng)))
