"""The split of a night's runs: every run once, balanced, the same on every machine."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.nightly.balance import LAUNCH_S, estimate_seconds, plan_night, split
from chaoskit.nightly.identity import matrix_digest
from chaoskit.nightly.matrix import Matrix, RunItem, parse_matrix

MATRIX = """
[matrix]
targets = ["raft", "bully", "etcd"]
nemeses = ["partition", "kill", "pause"]
seeds = [1, 2, 3]
time_limit = 20
nodes = 3
"""


def matrix(text: str = MATRIX) -> Matrix:
    return parse_matrix(text, "m.toml")


@given(
    st.lists(st.integers(min_value=1, max_value=100_000), min_size=0, max_size=60),
    st.integers(min_value=1, max_value=12),
)
def test_every_run_goes_to_exactly_one_shard_and_loads_are_balanced(
    weights: list[int], count: int
) -> None:
    shards = split(weights, count)
    assert len(shards) == count
    assert sorted(i for s in shards for i in s) == list(range(len(weights)))
    loads = [sum(weights[i] for i in s) for s in shards]
    # Every shard's load is within one run of the mean (Graham's bound for greedy lists).
    if weights:
        assert max(loads) * count <= sum(weights) + max(weights) * (count - 1)
    assert split(list(weights), count) == shards  # deterministic


@given(
    st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6),
    st.integers(min_value=2, max_value=3),
)
@settings(max_examples=60, deadline=None)
def test_the_longest_shard_is_within_4_3_of_the_best_split(weights: list[int], count: int) -> None:
    loads = [sum(weights[i] for i in s) for s in split(weights, count)]
    best = min(
        max(
            sum(w for w, k in zip(weights, assign, strict=True) if k == shard)
            for shard in range(count)
        )
        for assign in itertools.product(range(count), repeat=len(weights))
    )
    assert max(loads) <= best * 4 / 3


def test_equal_runs_split_evenly_and_ties_follow_the_matrix_order() -> None:
    assert split([5] * 7, 3) == [[0, 3, 6], [1, 4], [2, 5]]


def test_the_plan_is_the_same_for_the_same_matrix_and_history() -> None:
    a = plan_night(matrix(), 4, [])
    b = plan_night(matrix(), 4, [])
    assert a.shards == b.shards and a.digest == b.digest and a.source == "estimated"
    assert plan_night(matrix(), 3, []).digest != a.digest


def test_estimates_are_the_time_limit_the_launch_and_the_targets_deadline() -> None:
    m = matrix()
    raft = estimate_seconds(m, RunItem("raft", "kill", "none", 1))
    etcd = estimate_seconds(m, RunItem("etcd", "kill", "none", 1))
    assert raft == 20 + LAUNCH_S["local"] + 3.0  # the raft target's election deadline
    assert etcd > raft  # etcd waits longer for a leader
    docker = matrix(MATRIX + 'runtime = "docker"\n')
    assert estimate_seconds(docker, RunItem("raft", "kill", "none", 1)) == 20 + 20 + 3.0
    given_deadline = matrix(MATRIX + "election_deadline = 9\n")
    assert estimate_seconds(given_deadline, RunItem("raft", "kill", "none", 1)) == 20 + 3 + 9
    unknown = estimate_seconds(m, RunItem("no-such-target", "kill", "none", 1))
    assert unknown == 20 + 3 + 5.0


def night_of(m: Matrix, seconds: dict[tuple[str, int], float], digest: str | None = None) -> Any:
    cells: dict[str, dict[str, Any]] = {}
    for (key, seed), s in seconds.items():
        cells.setdefault(key, {"key": key, "runs": []})["runs"].append(
            {"seed": seed, "duration_s": s}
        )
    return {
        "matrix_digest": digest or matrix_digest(m),
        "night": "n0",
        "cells": list(cells.values()),
    }


def test_measured_durations_of_the_same_matrix_weigh_the_split() -> None:
    m = matrix()
    slow = {(item.key, item.seed): 10.0 for item in m.items()}
    slow[("etcd / pause / none", 1)] = 500.0
    plan = plan_night(m, 3, [("20260301T020000.000000Z", night_of(m, slow))])
    assert plan.source == "measured on night n0"
    heavy = m.items().index(RunItem("etcd", "pause", "none", 1))
    (alone,) = [s for s in plan.shards if heavy in s]
    assert alone == [heavy]  # the 500 s run has a shard to itself
    assert sorted(plan.load_s(k) for k in (1, 2, 3)) == [130.0, 130.0, 500.0]


def test_a_cells_other_seeds_stand_in_and_other_matrices_are_ignored() -> None:
    m = matrix()
    partial = {("raft / kill / none", 1): 40.0, ("raft / kill / none", 2): 60.0}
    plan = plan_night(m, 2, [("a", night_of(m, partial))])
    index = m.items().index(RunItem("raft", "kill", "none", 3))
    assert plan.expected_ms[index] == 50_000  # the mean of its cell's measured seeds
    other = plan_night(m, 2, [("a", night_of(m, partial, digest="0" * 64))])
    assert other.source == "estimated"
