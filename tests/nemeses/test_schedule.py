"""The fault schedule: drawn up front from the seed, alternating fault and heal."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaoskit.errors import ConfigError
from chaoskit.run.schedule import (
    Step,
    build_schedule,
    default_intervals,
    nemesis_rng,
    schedule_rng,
)

NAMES = ["kill", "partition", "isolate-leader"]


def draw(seed: int, names: list[str] = NAMES, **kw: float) -> list[Step]:
    args = {"time_limit": 120.0, "fault_s": 5.0, "heal_s": 5.0} | kw
    return build_schedule(names, rng=schedule_rng(seed), **args)


def test_same_seed_same_schedule() -> None:
    assert draw(11) == draw(11)
    assert draw(11) != draw(12)


def test_schedule_alternates_start_and_stop_of_the_same_nemesis() -> None:
    steps = draw(5)
    assert len(steps) >= 4 and len(steps) % 2 == 0
    for start, stop in zip(steps[::2], steps[1::2], strict=True):
        assert (start.action, stop.action) == ("start", "stop")
        assert start.nemesis == stop.nemesis
        assert start.at < stop.at
    times = [s.at for s in steps]
    assert times == sorted(times)


def test_intervals_are_randomized_within_half_to_one_and_a_half() -> None:
    steps = draw(8, fault_s=4.0, heal_s=6.0, time_limit=600.0)
    assert 3.0 - 1e-3 <= steps[0].at <= 9.0 + 1e-3, "opens with a healthy interval"
    faults = [b.at - a.at for a, b in zip(steps[::2], steps[1::2], strict=True)]
    heals = [b.at - a.at for a, b in zip(steps[1::2], steps[2::2], strict=False)]
    assert all(2.0 - 1e-3 <= f <= 6.0 + 1e-3 for f in faults)
    assert all(3.0 - 1e-3 <= h <= 9.0 + 1e-3 for h in heals)
    assert len({round(f, 3) for f in faults}) > 1


def test_combined_nemeses_are_all_drawn() -> None:
    steps = draw(1, time_limit=1000.0)
    assert {s.nemesis for s in steps} == set(NAMES)


@given(st.integers(0, 10_000), st.floats(1.0, 300.0), st.floats(0.5, 20.0), st.floats(0.5, 20.0))
def test_schedule_stays_inside_the_run_with_a_healthy_tail(
    seed: int, time_limit: float, fault_s: float, heal_s: float
) -> None:
    steps = draw(seed, time_limit=time_limit, fault_s=fault_s, heal_s=heal_s)
    assert len(steps) >= 2, "even a short run sees one fault"
    assert steps[0].at > 0
    assert steps[-1].at <= time_limit
    if len(steps) > 2:
        assert steps[-1].at <= time_limit - heal_s / 2 + 1e-3


def test_short_run_falls_back_to_one_fault_in_the_middle_third() -> None:
    steps = draw(3, time_limit=6.0, fault_s=10.0, heal_s=10.0)
    assert [(s.at, s.action) for s in steps] == [(2.0, "start"), (4.0, "stop")]


def test_no_names_no_steps() -> None:
    assert draw(1, names=[]) == []


def test_bad_lengths_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="fault_s must be positive"):
        draw(1, fault_s=0.0)
    with pytest.raises(ConfigError, match="election timeout"):
        default_intervals(0.0)


@pytest.mark.parametrize(("timeout", "expected"), [(0.05, 2.0), (0.3, 3.0), (1.0, 10.0)])
def test_default_intervals_follow_the_election_timeout(timeout: float, expected: float) -> None:
    assert default_intervals(timeout) == pytest.approx((expected, expected))


def test_generators_are_independent_per_nemesis_and_seed() -> None:
    a = nemesis_rng(7, "kill").random()
    assert a == nemesis_rng(7, "kill").random()
    assert a != nemesis_rng(7, "partition").random()
    assert a != nemesis_rng(8, "kill").random()
    assert schedule_rng(7).random() != random.Random(7).random()


def test_steps_serialize_for_the_run_directory() -> None:
    assert Step(1.5, "kill", "start").to_json() == {"at": 1.5, "nemesis": "kill", "action": "start"}
