"""Partitions as data: the pure topology functions, without any cluster."""

from __future__ import annotations

import random
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from chaoskit.nemeses import _grudges as g

IDS5 = ["n1", "n2", "n3", "n4", "n5"]
cluster_ids = st.integers(min_value=1, max_value=9).map(
    lambda n: [f"n{i}" for i in range(1, n + 1)]
)
seeds = st.integers(min_value=0, max_value=2**32)


def test_halves_puts_the_smaller_half_first() -> None:
    assert g.halves([]) == [[], []]
    assert g.halves(["a"]) == [[], ["a"]]
    assert g.halves(["a", "b", "c", "d"]) == [["a", "b"], ["c", "d"]]
    assert g.halves(["a", "b", "c", "d", "e"]) == [["a", "b"], ["c", "d", "e"]]


@given(cluster_ids, seeds)
def test_bisect_is_a_minority_and_the_rest(ids: list[str], seed: int) -> None:
    small, big = g.bisect(ids, random.Random(seed))
    assert sorted(small + big) == ids
    assert len(small) == len(ids) // 2
    assert len(big) >= g.majority(len(ids)) or len(ids) % 2 == 0


def test_bisect_depends_on_the_seed_only() -> None:
    a = g.bisect(IDS5, random.Random(3))
    b = g.bisect(list(reversed(IDS5)), random.Random(3))
    assert a == b
    draws = {tuple(map(tuple, g.bisect(IDS5, random.Random(s)))) for s in range(50)}
    assert len(draws) > 1


def test_links_between_groups_cuts_every_crossing_link_both_ways() -> None:
    links = g.links_between_groups([["n1", "n2"], ["n3"]])
    assert links == [("n1", "n3"), ("n2", "n3"), ("n3", "n1"), ("n3", "n2")]


@given(cluster_ids, seeds)
def test_links_between_halves_are_exactly_the_crossing_pairs(ids: list[str], seed: int) -> None:
    small, big = g.bisect(ids, random.Random(seed))
    links = set(g.links_between_groups([small, big]))
    side = {n: 0 for n in small} | {n: 1 for n in big}
    expected = {(a, b) for a in ids for b in ids if side[a] != side[b]}
    assert links == expected


def test_links_one_way_cuts_only_one_direction() -> None:
    links = g.links_one_way(["n1", "n2"], ["n3", "n4"])
    assert links == [("n1", "n3"), ("n1", "n4"), ("n2", "n3"), ("n2", "n4")]
    assert all((b, a) not in links for a, b in links)


def test_isolating_a_node_cuts_it_both_ways_or_one_way() -> None:
    assert g.isolate("n2", IDS5) == [["n2"], ["n1", "n3", "n4", "n5"]]
    both = g.links_of("n2", IDS5)
    assert len(both) == 8
    assert ("n1", "n2") in both and ("n2", "n1") in both
    assert g.links_of("n2", IDS5, "in") == [(n, "n2") for n in ["n1", "n3", "n4", "n5"]]
    assert g.links_of("n2", IDS5, "out") == [("n2", n) for n in ["n1", "n3", "n4", "n5"]]


def test_ring_grudge_of_five_matches_the_ring() -> None:
    grudge = g.ring_grudge(["a", "b", "c", "d", "e"])
    assert grudge == {
        "a": ["c", "d"],
        "b": ["d", "e"],
        "c": ["a", "e"],
        "d": ["a", "b"],
        "e": ["b", "c"],
    }


@given(cluster_ids, seeds)
def test_majorities_ring_every_node_sees_a_majority(ids: list[str], seed: int) -> None:
    grudge = g.majorities_ring(ids, random.Random(seed))
    assert sorted(grudge) == ids
    n = len(ids)
    for node, ignored in grudge.items():
        assert node not in ignored
        assert n - len(ignored) == g.majority(n)
    if n >= 4:
        seen = {frozenset(set(ids) - set(ignored)) for ignored in grudge.values()}
        assert len(seen) == n, "no two nodes may see the same majority"


def test_ring_with_even_majority_has_one_way_cuts() -> None:
    links = set(g.grudge_links(g.ring_grudge(["a", "b", "c", "d", "e", "f"])))
    assert any((b, a) not in links for a, b in links)


def test_bridge_keeps_one_node_connected_to_both_halves() -> None:
    grudge = g.bridge_grudge([["a", "b"], ["c", "d", "e"]])
    links = g.grudge_links(grudge)
    assert all("c" not in link for link in links)
    assert set(links) == set(g.links_between_groups([["a", "b"], ["d", "e"]]))


@given(cluster_ids, seeds)
def test_bridge_node_is_never_cut(ids: list[str], seed: int) -> None:
    groups = g.halves(g.shuffled(ids, random.Random(seed)))
    links = g.grudge_links(g.bridge_grudge(groups))
    bridge = groups[1][0]
    assert all(bridge not in link for link in links)
    counts = Counter(src for src, _ in links)
    assert all(counts[n] > 0 for n in ids if n != bridge) or len(ids) <= 2


def test_grudge_links_ignore_self_and_read_dst_from_key() -> None:
    assert g.grudge_links({"b": ["a", "b"]}) == [("a", "b")]
