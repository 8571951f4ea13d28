"""Thinning the latency scatter keeps its shape and every rare outcome."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from chaoskit.report._downsample import downsample
from chaoskit.report._model import OpPoint


def points(n: int, outcome: str = "ok", seed: int = 0) -> list[OpPoint]:
    rng = random.Random(seed)
    return [
        OpPoint(time=i * 1000, latency=rng.randrange(1, 10**6), outcome=outcome, f="read")
        for i in range(n)
    ]


def test_small_inputs_are_kept_whole() -> None:
    ops = points(50)
    assert downsample(ops, budget=100) == ops


def test_budget_is_respected_and_the_slowest_op_survives() -> None:
    ops = points(100_000)
    kept = downsample(ops, budget=2000)
    assert len(kept) <= 2000
    assert max(ops, key=lambda p: p.latency) in kept
    assert min(ops, key=lambda p: p.latency) in kept


def test_rare_outcomes_are_all_kept() -> None:
    ops = points(50_000) + points(40, "info", seed=1) + points(30, "fail", seed=2)
    kept = downsample(ops, budget=1000)
    assert sum(p.outcome == "info" for p in kept) == 40
    assert sum(p.outcome == "fail" for p in kept) == 30


def test_a_spike_in_any_time_slice_survives() -> None:
    ops = [OpPoint(time=i, latency=5, outcome="ok", f="r") for i in range(20_000)]
    ops[12_345] = OpPoint(time=12_345, latency=9_999_999, outcome="ok", f="r")
    assert ops[12_345] in downsample(ops, budget=500)


@given(
    st.lists(
        st.tuples(
            st.integers(0, 10**9), st.integers(0, 10**6), st.sampled_from(["ok", "fail", "info"])
        ),
        max_size=400,
    ),
    st.integers(10, 200),
)
def test_output_is_a_subset_within_budget(raw: list[tuple[int, int, str]], budget: int) -> None:
    ops = [OpPoint(t, lat, o, "r") for t, lat, o in raw]
    kept = downsample(ops, budget)
    assert len(kept) <= max(budget, 6)
    assert all(p in ops for p in kept)
