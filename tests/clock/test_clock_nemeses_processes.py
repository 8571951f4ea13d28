"""Each clock nemesis with the real FaketimeClock on real processes, then healed."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any, cast

import pytest

from chaoskit.clock.faketime import FaketimeClock
from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.core.target import NodeInfo
from chaoskit.nemeses.clock import ClockBump, ClockRate, ClockSkewLeader, ClockStrobe
from chaoskit.scenario.targets import resolve

pytestmark = pytest.mark.integration

IDS = ["n1", "n2", "n3"]


class Leaders:
    def __init__(self, node: str | None) -> None:
        self.current = node
        self.previous: str | None = None


class Ctx(NemesisContext):
    leader: str | None = None


def context(clock: FaketimeClock, leader: str | None = "n2") -> Ctx:
    nodes = [NodeInfo(n, i, "127.0.0.1", {"api": 0}, cast(Any, None)) for i, n in enumerate(IDS)]
    ctx = Ctx(
        nodes=nodes,
        rng=random.Random(5),
        runtime=cast(Any, None),
        network=cast(Any, None),
        clock=clock,
    )
    ctx.leader = leader
    return ctx


async def start(nemesis: Any, ctx: Ctx) -> Fault | None:
    """Resolve the default targets as the scenario engine does, then start."""
    targets = resolve(nemesis.default_targets, ctx.ids, ctx.rng, Leaders(ctx.leader)).nodes
    fault: Fault | None = await nemesis.start(ctx, list(targets))
    return fault


@pytest.fixture
def cluster(clock: FaketimeClock, spawn) -> dict[str, Any]:
    return {node: spawn(clock.env_for(node)) for node in IDS}


async def offsets(cluster: dict[str, Any], expected: dict[str, float]) -> dict[str, float]:
    seen = {}
    for node, child in cluster.items():
        want = expected.get(node, 0.0)
        seen[node] = await asyncio.to_thread(child.wait_offset, want)
    return seen


async def elapsed_ratio(child: Any) -> float:
    return float(await asyncio.to_thread(child.rate))


async def test_clock_bump_on_real_nodes(clock: FaketimeClock, cluster) -> None:
    ctx = context(clock)
    nemesis = ClockBump()
    nemesis.configure({"max_offset_s": "120", "count": "all"})
    fault = await start(nemesis, ctx)
    assert fault is not None and fault.down == [] and fault.cut == []
    want = {n: c["offset_s"] for n, c in fault.detail["clocks"].items()}
    assert set(want) == set(IDS)
    seen = await offsets(cluster, want)
    assert all(abs(seen[n] - want[n]) < 1.0 for n in IDS), (seen, want)
    assert clock.offsets() == fault.detail["clocks"]

    await nemesis.stop(ctx, fault)
    seen = await offsets(cluster, {})
    assert all(abs(v) < 1.0 for v in seen.values()), seen


async def test_clock_rate_on_a_real_node(clock: FaketimeClock, cluster) -> None:
    ctx = context(clock)
    nemesis = ClockRate()
    nemesis.configure({"rate": "2", "count": "one"})
    fault = await start(nemesis, ctx)
    assert fault is not None
    (victim,) = fault.detail["nodes"]
    bystander = next(n for n in IDS if n != victim)
    assert await elapsed_ratio(cluster[victim]) == pytest.approx(2.0, rel=0.15)
    assert await elapsed_ratio(cluster[bystander]) == pytest.approx(1.0, rel=0.15)
    await nemesis.stop(ctx, fault)
    assert abs((await offsets(cluster, {}))[victim]) < 1.0


async def test_clock_skew_leader_slows_the_leader(clock: FaketimeClock, cluster) -> None:
    ctx = context(clock, leader="n3")
    nemesis = ClockSkewLeader()
    fault = await start(nemesis, ctx)
    assert fault is not None and fault.detail["nodes"] == ["n3"]
    assert await elapsed_ratio(cluster["n3"]) == pytest.approx(0.5, rel=0.15)
    await nemesis.stop(ctx, fault)
    assert abs((await offsets(cluster, {}))["n3"]) < 1.0
    assert clock.offsets()["n3"] == {"offset_s": 0.0, "rate": 1.0}


async def test_clock_strobe_on_the_leader(clock: FaketimeClock, cluster) -> None:
    ctx = context(clock, leader="n1")
    nemesis = ClockStrobe()
    nemesis.configure({"count": "leader", "offset_s": "2", "period_ms": "30"})
    fault = await start(nemesis, ctx)
    assert fault is not None and fault.detail["nodes"] == ["n1"]
    ticks_before, _ = await asyncio.to_thread(cluster["n1"].stats)
    seen: list[float] = []
    end = time.monotonic() + 2.0
    while time.monotonic() < end:
        seen.append(await asyncio.to_thread(cluster["n1"].offset))
        await asyncio.sleep(0.03)
    await nemesis.stop(ctx, fault)

    assert max(seen) > 1.0 and min(seen) < -1.0, seen
    healed = await offsets(cluster, {})
    assert all(abs(v) < 1.0 for v in healed.values()), healed
    # The node's asyncio loop lived through it (its timers may have fired late).
    deadline = time.monotonic() + 10
    ticks, done = await asyncio.to_thread(cluster["n1"].stats)
    while ticks <= ticks_before and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        ticks, done = await asyncio.to_thread(cluster["n1"].stats)
    assert ticks > ticks_before and not done
    assert cluster["n1"].proc.poll() is None
