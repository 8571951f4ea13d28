"""The clock nemeses against a recording Clock: options, victims, Fault data, healing.

Victims are resolved as the scenario engine resolves them (``start`` below): the
nemesis's default selector, the leader, the nemesis's seeded generator.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, cast

import pytest

from chaoskit.core.clock import Clock
from chaoskit.core.nemesis import Fault, Nemesis, NemesisContext
from chaoskit.core.target import NodeInfo
from chaoskit.errors import ConfigError, SetupError
from chaoskit.nemeses.clock import ClockBump, ClockRate, ClockSkewLeader, ClockStrobe
from chaoskit.scenario.targets import Resolved, resolve

IDS = ["n1", "n2", "n3", "n4", "n5"]
ALL = (ClockBump, ClockStrobe, ClockRate, ClockSkewLeader)


class RecordingClock:
    """A Clock that remembers every call and each node's current setting."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, float, float]] = []
        self.now: dict[str, tuple[float, float]] = {n: (0.0, 1.0) for n in IDS}

    def set(self, node: str, offset_s: float = 0.0, rate: float = 1.0) -> None:
        self.calls.append(("set", node, offset_s, rate))
        self.now[node] = (offset_s, rate)

    def reset(self, node: str | None = None) -> None:
        self.calls.append(("reset", node, 0.0, 1.0))
        for name in IDS if node is None else [node]:
            self.now[name] = (0.0, 1.0)

    def skewed(self) -> set[str]:
        return {n for n, s in self.now.items() if s != (0.0, 1.0)}


class Leaders:
    def __init__(self, node: str | None) -> None:
        self.current = node
        self.previous: str | None = None


class Ctx(NemesisContext):
    leader: str | None = None
    resolved: Resolved | None = None


def context(clock: Clock | None, leader: str | None = "n3", seed: int = 1) -> Ctx:
    nodes = [NodeInfo(n, i, "127.0.0.1", {"api": 0}, cast(Any, None)) for i, n in enumerate(IDS)]
    ctx = Ctx(
        nodes=nodes,
        rng=random.Random(seed),
        runtime=cast(Any, None),
        network=cast(Any, None),
        clock=clock,
    )
    ctx.leader = leader
    return ctx


async def start(nemesis: Any, ctx: Ctx) -> Fault | None:
    """Resolve the nemesis's default targets as the engine does, then start it."""
    ctx.resolved = resolve(nemesis.default_targets, ctx.ids, ctx.rng, Leaders(ctx.leader))
    fault: Fault | None = await nemesis.start(ctx, list(ctx.resolved.nodes))
    return fault


def configured(cls: type, **options: str) -> Any:
    nemesis = cls()
    nemesis.configure(options)
    return nemesis


# -- shape and options ----------------------------------------------------------


@pytest.mark.parametrize("cls", ALL)
def test_each_is_a_nemesis_with_a_no_arg_constructor(cls: type) -> None:
    nemesis = cls()
    assert isinstance(nemesis, Nemesis)
    assert nemesis.name.startswith("clock-") and nemesis.description


@pytest.mark.parametrize("cls", ALL)
def test_unknown_option_is_refused(cls: type) -> None:
    with pytest.raises(ConfigError, match=r"has no option 'bogus'"):
        cls().configure({"bogus": "1"})


@pytest.mark.parametrize(
    ("cls", "options", "match"),
    [
        (ClockBump, {"max_offset_s": "0"}, "positive"),
        (ClockBump, {"max_offset_s": "soon"}, "must be a number"),
        (ClockBump, {"count": "few"}, "count: 'few' is not a selector"),
        (ClockBump, {"count": "0"}, "count: '0' is not a selector"),
        (ClockStrobe, {"period_ms": "0"}, "at least 1"),
        (ClockStrobe, {"offset_s": "-1"}, "positive"),
        (ClockRate, {"rate": "1"}, "not a fault"),
        (ClockRate, {"rate": "0"}, "positive"),
        (ClockRate, {"rate": "1000"}, "between 0.001 and 100"),
        (ClockRate, {"rate": "1e-9"}, "between 0.001 and 100"),
        (ClockBump, {"max_offset_s": "1e30"}, "within 6.3072e[+]08 s [(]20 years[)]"),
        (ClockStrobe, {"offset_s": "1e12"}, "20 years"),
        (ClockStrobe, {"period_ms": "1" + "0" * 5000}, "whole number"),
        (ClockStrobe, {"period_ms": "60001"}, "at most 60000"),
        (ClockSkewLeader, {"offset_s": "-7e8"}, "20 years"),
        (ClockRate, {"rate": "nan"}, "positive"),
        (ClockSkewLeader, {"rate": "1"}, "no fault"),
        (ClockSkewLeader, {"offset_s": "inf"}, "finite"),
        (ClockSkewLeader, {"count": "all"}, "no option 'count'"),
    ],
)
def test_bad_values_are_refused(cls: type, options: dict[str, str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        cls().configure(options)


@pytest.mark.parametrize("cls", [ClockBump, ClockStrobe, ClockRate])
def test_a_count_larger_than_the_cluster_is_refused(cls: type) -> None:
    nemesis = cls()
    nemesis.configure({"count": "6"})
    nemesis.check_cluster(6)
    with pytest.raises(ConfigError, match="count=6 is more than the 5 node"):
        nemesis.check_cluster(5)
    nemesis.configure({"count": "all"})
    nemesis.check_cluster(1)


@pytest.mark.parametrize("cls", ALL)
async def test_without_a_clock_start_says_why(cls: type) -> None:
    with pytest.raises(SetupError, match=r"libfaketime is missing \(apt-get install faketime\)"):
        await start(cls(), context(None))


# -- each nemesis ---------------------------------------------------------------


async def test_bump_offsets_a_random_subset_within_bounds() -> None:
    clock = RecordingClock()
    ctx = context(clock)
    nemesis = configured(ClockBump, max_offset_s="5")
    fault = await start(nemesis, ctx)
    assert fault is not None and fault.fault == "clock-bump"
    assert fault.down == [] and fault.cut == []
    victims = fault.detail["nodes"]
    assert victims and set(victims) <= set(IDS) and victims == sorted(victims)
    assert set(fault.detail["clocks"]) == set(victims)
    assert clock.skewed() <= set(victims)
    for node in victims:
        offset = fault.detail["clocks"][node]["offset_s"]
        assert -5.0 <= offset <= 5.0 and fault.detail["clocks"][node]["rate"] == 1.0
        assert clock.now[node] == (offset, 1.0)
    await nemesis.stop(ctx, fault)
    assert clock.skewed() == set()
    assert {c[1] for c in clock.calls if c[0] == "reset"} == set(victims)


async def test_the_same_seed_draws_the_same_fault() -> None:
    details = []
    for _ in range(2):
        fault = await start(configured(ClockBump), context(RecordingClock(), seed=42))
        assert fault is not None
        details.append(fault.detail)
    assert details[0] == details[1]
    other = await start(configured(ClockBump), context(RecordingClock(), seed=43))
    assert other is not None and other.detail != details[0]


@pytest.mark.parametrize(("count", "size"), [("one", 1), ("majority", 3), ("all", 5), ("2", 2)])
async def test_count_chooses_how_many(count: str, size: int) -> None:
    fault = await start(configured(ClockBump, count=count), context(RecordingClock()))
    assert fault is not None and len(fault.detail["nodes"]) == size


async def test_count_leader_hits_the_leader_and_falls_back_when_none() -> None:
    fault = await start(configured(ClockBump, count="leader"), context(RecordingClock(), "n4"))
    assert fault is not None and fault.detail["nodes"] == ["n4"]
    ctx = context(RecordingClock(), None)
    fault = await start(configured(ClockBump, count="leader"), ctx)
    assert fault is not None and len(fault.detail["nodes"]) == 1
    assert ctx.resolved is not None and ctx.resolved.fallback is True


async def test_rate_defaults_to_slow_or_fast_on_one_node() -> None:
    rates = set()
    for seed in range(20):
        clock = RecordingClock()
        fault = await start(ClockRate(), context(clock, seed=seed))
        assert fault is not None and len(fault.detail["nodes"]) == 1
        (node,) = fault.detail["nodes"]
        rate = fault.detail["clocks"][node]["rate"]
        assert clock.now[node] == (0.0, rate)
        rates.add(rate)
    assert rates == {0.5, 1.5}


async def test_rate_option_is_used_for_every_victim() -> None:
    clock = RecordingClock()
    ctx = context(clock)
    nemesis = configured(ClockRate, rate="2.5", count="all")
    fault = await start(nemesis, ctx)
    assert fault is not None
    assert {c["rate"] for c in fault.detail["clocks"].values()} == {2.5}
    assert clock.skewed() == set(IDS)
    await nemesis.stop(ctx, fault)
    assert clock.skewed() == set()


async def test_skew_leader_defaults_to_a_slow_leader() -> None:
    clock = RecordingClock()
    ctx = context(clock, leader="n2")
    nemesis = ClockSkewLeader()
    fault = await start(nemesis, ctx)
    assert fault is not None
    assert fault.detail["nodes"] == ["n2"] and nemesis.default_targets == "leader"
    assert fault.detail["clocks"] == {"n2": {"offset_s": 0.0, "rate": 0.5}}
    assert clock.skewed() == {"n2"}
    await nemesis.stop(ctx, fault)
    assert clock.skewed() == set()


async def test_skew_leader_with_an_offset() -> None:
    clock = RecordingClock()
    nemesis = configured(ClockSkewLeader, offset_s="-10", rate="1")
    fault = await start(nemesis, context(clock, leader="n5"))
    assert fault is not None and clock.now["n5"] == (-10.0, 1.0)


async def test_strobe_flips_until_stopped_then_resets() -> None:
    clock = RecordingClock()
    ctx = context(clock)
    nemesis = configured(ClockStrobe, offset_s="0.25", period_ms="2", count="2")
    fault = await start(nemesis, ctx)
    assert fault is not None and fault.down == [] and fault.cut == []
    victims = fault.detail["nodes"]
    assert len(victims) == 2 and fault.detail["offsets_s"] == [0.25, -0.25]
    assert fault.detail["period_ms"] == 2
    assert all(clock.now[n] == (0.25, 1.0) for n in victims)  # in effect at once

    deadline = asyncio.get_running_loop().time() + 10
    while len({c[2] for c in clock.calls if c[0] == "set"}) < 2:
        assert asyncio.get_running_loop().time() < deadline, "the strobe never flipped"
        await asyncio.sleep(0.01)

    await nemesis.stop(ctx, fault)
    assert fault.state.task.done()
    calls = len(clock.calls)
    await asyncio.sleep(0.05)
    assert len(clock.calls) == calls  # no flip after stop
    assert clock.skewed() == set()
    offsets = {c[2] for c in clock.calls if c[0] == "set"}
    assert offsets == {0.25, -0.25}
    assert {c[1] for c in clock.calls} == set(victims)


async def test_stop_heals_from_the_logged_detail_alone() -> None:
    clock = RecordingClock()
    ctx = context(clock)
    nemesis = configured(ClockBump, count="all")
    fault = await start(nemesis, ctx)
    assert fault is not None
    fault.state = None  # e.g. a fault rebuilt from nemesis.jsonl
    await nemesis.stop(ctx, fault)
    assert clock.skewed() == set()
