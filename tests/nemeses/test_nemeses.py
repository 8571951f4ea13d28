"""Every nemesis against a fake runtime and network: the Fault data and the calls made.

Targets are resolved as the scenario engine resolves them when a step fires (the
nemesis's default selector, the leader stream, the nemesis's seeded generator), then
handed to ``start``.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from chaoskit import nemeses
from chaoskit.core.nemesis import Fault, Nemesis, NemesisContext
from chaoskit.core.network import LinkMode
from chaoskit.core.target import Launch, NodeInfo
from chaoskit.errors import ConfigError
from chaoskit.nemeses import _grudges as g
from chaoskit.run.schedule import nemesis_rng
from chaoskit.scenario.targets import Resolved, resolve

Link = tuple[str, str]


class FakeRuntime:
    """Records every lifecycle call; tracks who is down."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.down: set[str] = set()

    async def launch(self, node: NodeInfo, launch: Launch) -> None:
        self.calls.append(("launch", node.id))

    async def start(self, node: str) -> None:
        self.calls.append(("start", node))
        self.down.discard(node)

    async def kill(self, node: str) -> None:
        self.calls.append(("kill", node))
        self.down.add(node)

    async def stop(self, node: str) -> None:
        self.calls.append(("stop", node))

    async def pause(self, node: str) -> None:
        self.calls.append(("pause", node))
        self.down.add(node)

    async def resume(self, node: str) -> None:
        self.calls.append(("resume", node))
        self.down.discard(node)

    def is_running(self, node: str) -> bool:
        return node not in self.down

    async def close(self) -> None:
        pass


class FakeNetwork:
    """A proxy per ordered pair, in memory: which links are cut (and how) or delayed."""

    def __init__(self, ids: Sequence[str]) -> None:
        self._links = [(a, b) for a in ids for b in ids if a != b]
        self.cut_links: dict[Link, LinkMode] = {}
        self.delayed: dict[Link, tuple[int, int]] = {}
        self.calls: list[tuple[str, Any]] = []

    async def cut(self, links: Sequence[Link], mode: LinkMode = "cut") -> None:
        self.calls.append(("cut", (list(links), mode)))
        for link in links:
            assert link in self._links, f"unknown link {link}"
            self.cut_links[link] = mode

    async def heal(self, links: Sequence[Link] | None = None) -> None:
        self.calls.append(("heal", None if links is None else list(links)))
        for link in list(self.cut_links) if links is None else links:
            self.cut_links.pop(link, None)

    async def delay(self, links: Sequence[Link], latency_ms: int, jitter_ms: int) -> None:
        self.calls.append(("delay", (list(links), latency_ms, jitter_ms)))
        for link in links:
            self.delayed[link] = (latency_ms, jitter_ms)

    async def undelay(self, links: Sequence[Link]) -> None:
        self.calls.append(("undelay", list(links)))
        for link in links:
            self.delayed.pop(link, None)

    def links(self) -> list[Link]:
        return list(self._links)


class FakeLeaders:
    """The leader stream as target selectors read it."""

    def __init__(self, current: str | None, previous: str | None = None) -> None:
        self.current = current
        self.previous = previous


class Ctx(NemesisContext):
    """A context that also says who leads, for resolving ``leader`` targets."""

    leader: str | None = None
    resolved: Resolved | None = None


def make_ctx(n: int = 5, *, seed: int = 1, leader: str | None = None) -> Ctx:
    nodes = [
        NodeInfo(f"n{i}", i, "127.0.0.1", {"api": 9000 + i}, Path(f"/tmp/ck-fake/n{i}"))
        for i in range(1, n + 1)
    ]
    ids = [x.id for x in nodes]
    ctx = Ctx(nodes=nodes, rng=random.Random(seed), runtime=FakeRuntime(), network=FakeNetwork(ids))
    ctx.leader = leader
    return ctx


def make(name: str, **options: str) -> Any:
    nemesis = nemeses.BUILTINS[name]()
    if options:
        nemesis.configure(options)
    return nemesis


def start(nemesis: Any, ctx: Ctx, targets: Sequence[str] | None = None) -> Fault | None:
    """Resolve the nemesis's default targets as the engine does (unless given), start."""
    if targets is None:
        ctx.resolved = resolve(nemesis.default_targets, ctx.ids, ctx.rng, FakeLeaders(ctx.leader))
        targets = ctx.resolved.nodes
    result: Fault | None = asyncio.run(nemesis.start(ctx, list(targets)))
    return result


def stop(nemesis: Any, ctx: NemesisContext, fault: Fault) -> None:
    asyncio.run(nemesis.stop(ctx, fault))


def net(ctx: NemesisContext) -> FakeNetwork:
    assert isinstance(ctx.network, FakeNetwork)
    return ctx.network


def rt(ctx: NemesisContext) -> FakeRuntime:
    assert isinstance(ctx.runtime, FakeRuntime)
    return ctx.runtime


def test_every_builtin_satisfies_the_protocol_and_has_a_unique_name() -> None:
    assert len(nemeses.BUILTINS) == 12
    for name, cls in nemeses.BUILTINS.items():
        nemesis = cls()
        assert isinstance(nemesis, Nemesis)
        assert nemesis.name == name and nemesis.description


@pytest.mark.parametrize("seed", range(10))
def test_kill_kills_a_nonempty_minority_and_restarts_exactly_them(seed: int) -> None:
    ctx = make_ctx(5, seed=seed)
    nemesis = make("kill")
    fault = start(nemesis, ctx)
    assert fault is not None and fault.fault == "kill"
    assert 1 <= len(fault.down) <= 2
    assert fault.cut == []
    assert rt(ctx).calls == [("kill", n) for n in fault.down]
    assert rt(ctx).down == set(fault.down)
    assert fault.detail["nodes"] == fault.down
    stop(nemesis, ctx, fault)
    assert rt(ctx).calls[len(fault.down) :] == [("start", n) for n in fault.down]
    assert rt(ctx).down == set()


def test_pause_pauses_and_resumes() -> None:
    ctx = make_ctx(3, seed=4)
    nemesis = make("pause")
    fault = start(nemesis, ctx)
    assert fault is not None and len(fault.down) == 1
    (victim,) = fault.down
    stop(nemesis, ctx, fault)
    assert rt(ctx).calls == [("pause", victim), ("resume", victim)]


@pytest.mark.parametrize(
    ("count", "expected"), [("one", 1), ("majority", 3), ("all", 5), ("2", 2), ("9", 5)]
)
def test_kill_count_option(count: str, expected: int) -> None:
    ctx = make_ctx(5)
    fault = start(make("kill", count=count), ctx)
    assert fault is not None and len(fault.down) == expected


def test_kill_on_two_nodes_still_kills_one() -> None:
    fault = start(make("kill"), make_ctx(2))
    assert fault is not None and len(fault.down) == 1


@pytest.mark.parametrize("name", ["kill-leader", "pause-leader"])
def test_leader_nemeses_hit_the_current_leader(name: str) -> None:
    ctx = make_ctx(5, leader="n4")
    nemesis = make(name)
    assert nemesis.default_targets == "leader"
    fault = start(nemesis, ctx)
    assert fault is not None
    assert fault.down == ["n4"]
    assert ctx.resolved is not None and ctx.resolved.fallback is False
    verb = "kill" if name == "kill-leader" else "pause"
    assert rt(ctx).calls == [(verb, "n4")]


@pytest.mark.parametrize("name", ["kill-leader", "pause-leader", "isolate-leader"])
def test_leader_nemeses_fall_back_to_a_random_node_and_say_so(name: str) -> None:
    victims = set()
    for seed in range(20):
        ctx = make_ctx(5, seed=seed, leader=None)
        fault = start(make(name), ctx)
        assert fault is not None
        assert ctx.resolved is not None and ctx.resolved.fallback is True
        victims.add(fault.detail.get("node") or fault.down[0])
    assert len(victims) > 1


def test_leader_unknown_to_the_cluster_is_a_fallback() -> None:
    ctx = make_ctx(3, leader="ghost")
    fault = start(make("kill-leader"), ctx)
    assert fault is not None and fault.down != ["ghost"]
    assert ctx.resolved is not None and ctx.resolved.fallback is True


def test_kill_count_takes_any_selector_so_count_leader_is_kill_leader() -> None:
    ctx = make_ctx(5, leader="n2")
    fault = start(make("kill", count="leader"), ctx)
    assert fault is not None and fault.down == ["n2"]


def test_given_targets_are_the_victims_and_unknown_nodes_are_ignored() -> None:
    ctx = make_ctx(5)
    fault = start(make("pause"), ctx, ["n5", "n1", "ghost"])
    assert fault is not None and fault.down == ["n1", "n5"]
    assert start(make("kill"), make_ctx(5), ["ghost"]) is None


@pytest.mark.parametrize("mode", ["cut", "hang"])
def test_partition_cuts_every_crossing_link_and_heals_exactly_them(mode: str) -> None:
    ctx = make_ctx(5, seed=7)
    net(ctx).cut_links[("n9", "n9")] = "cut"  # someone else's cut must survive the heal
    nemesis = make("partition", mode=mode)
    fault = start(nemesis, ctx)
    assert fault is not None and fault.down == []
    small, big = fault.detail["groups"]
    assert len(small) == 2 and len(big) == 3 and sorted(small + big) == ctx.ids
    assert fault.cut == g.links_between_groups([small, big])
    assert len(fault.cut) == 2 * 2 * 3
    assert fault.detail["mode"] == mode
    assert all(net(ctx).cut_links[link] == mode for link in fault.cut)
    stop(nemesis, ctx, fault)
    assert net(ctx).calls[-1] == ("heal", fault.cut)
    assert net(ctx).cut_links == {("n9", "n9"): "cut"}


def test_partition_oneway_cuts_one_direction_only() -> None:
    for seed in range(10):
        ctx = make_ctx(5, seed=seed)
        fault = start(make("partition-oneway"), ctx)
        assert fault is not None
        src, dst = fault.detail["from"], fault.detail["to"]
        assert fault.cut == g.links_one_way(src, dst)
        assert all((b, a) not in fault.cut for a, b in fault.cut)
        assert len(src) == 2, "by default the smaller half cannot send"
    fault = start(make("partition-oneway"), make_ctx(5), ["n1", "n2", "n3"])
    assert fault is not None and fault.detail["from"] == ["n1", "n2", "n3"]


def test_partition_of_given_targets_and_a_smaller_minority() -> None:
    ctx = make_ctx(5)
    fault = start(make("partition"), ctx, ["n4"])
    assert fault is not None and fault.detail["groups"] == [["n4"], ["n1", "n2", "n3", "n5"]]
    assert fault.cut == g.links_of("n4", ctx.ids, "both")


def test_ring_over_some_nodes_leaves_the_others_connected() -> None:
    ctx = make_ctx(5)
    fault = start(make("partition-majorities-ring"), ctx, ["n1", "n2", "n3", "n4"])
    assert fault is not None and all("n5" not in link for link in fault.cut)
    assert fault.detail["ring"] == ["n1", "n2", "n3", "n4"]


def test_isolate_of_several_targets_isolates_each() -> None:
    ctx = make_ctx(4)
    fault = start(make("isolate"), ctx, ["n1", "n2"])
    assert fault is not None
    assert ("n1", "n2") in fault.cut and ("n2", "n1") in fault.cut
    assert fault.detail["nodes"] == ["n1", "n2"]


def test_majorities_ring_cuts_its_grudge() -> None:
    ctx = make_ctx(5, seed=3)
    fault = start(make("partition-majorities-ring"), ctx)
    assert fault is not None
    assert fault.cut == g.grudge_links(fault.detail["grudge"])
    assert fault.detail["grudge"] == g.ring_grudge(fault.detail["ring"])
    assert len(fault.cut) == 5 * 2


def test_bridge_leaves_the_bridge_node_connected() -> None:
    ctx = make_ctx(5, seed=5)
    fault = start(make("partition-bridge", mode="hang"), ctx)
    assert fault is not None
    bridge = fault.detail["bridge"]
    assert ctx.resolved is not None and bridge == ctx.resolved.nodes[-1]
    assert bridge in fault.detail["groups"][1]
    assert all(bridge not in link for link in fault.cut)
    assert len(fault.cut) == 2 * 2 * 2
    assert set(net(ctx).cut_links.values()) == {"hang"}


def test_isolate_cuts_both_directions_of_one_node() -> None:
    ctx = make_ctx(5, seed=2)
    fault = start(make("isolate"), ctx)
    assert fault is not None
    node = fault.detail["node"]
    assert fault.cut == g.links_of(node, ctx.ids, "both")
    assert fault.detail["groups"][0] == [node]


def test_isolate_leader_one_way_in() -> None:
    ctx = make_ctx(3, leader="n2")
    nemesis = make("isolate-leader", direction="in")
    fault = start(nemesis, ctx)
    assert fault is not None
    assert fault.cut == [("n1", "n2"), ("n3", "n2")]
    assert fault.detail["node"] == "n2" and fault.detail["direction"] == "in"
    stop(nemesis, ctx, fault)
    assert net(ctx).cut_links == {}


def test_partition_of_a_single_node_does_nothing() -> None:
    ctx = make_ctx(1)
    assert start(make("partition"), ctx) is None
    assert net(ctx).calls == []


def test_latency_delays_every_link_and_cuts_nothing() -> None:
    ctx = make_ctx(3)
    nemesis = make("latency", latency_ms="250", jitter_ms="20")
    fault = start(nemesis, ctx)
    assert fault is not None and fault.down == [] and fault.cut == []
    assert fault.detail == {"latency_ms": 250, "jitter_ms": 20, "links": 6}
    assert net(ctx).delayed == {link: (250, 20) for link in net(ctx).links()}
    stop(nemesis, ctx, fault)
    assert net(ctx).delayed == {}


def test_none_does_nothing() -> None:
    ctx = make_ctx(3)
    assert start(make("none"), ctx) is None
    assert net(ctx).calls == [] and rt(ctx).calls == []


@pytest.mark.parametrize(
    ("name", "options", "fragment"),
    [
        ("partition", {"colour": "red"}, "no option 'colour'"),
        ("partition", {"mode": "drop"}, "mode must be one of cut, hang"),
        ("kill", {"count": "few"}, "count: 'few' is not a selector"),
        ("kill", {"count": "0"}, "count: '0' is not a selector"),
        ("latency", {"latency_ms": "fast"}, "whole number"),
        ("isolate", {"direction": "up"}, "direction must be one of"),
        ("kill-leader", {"count": "1"}, "no option 'count'"),
        ("none", {"x": "1"}, "no option 'x'"),
    ],
)
def test_bad_options_are_config_errors(name: str, options: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        make(name).configure(options)


def _victims_of_two_runs(names: list[str], seed: int) -> list[list[Any]]:
    """Start and stop each nemesis in turn, each with its own seeded generator."""
    runs = []
    for _ in range(2):
        ctx = make_ctx(5, leader="n1")
        log = []
        for name, k in itertools.product(names, range(3)):
            ctx.rng = nemesis_rng(seed, f"{name}:{k}")
            nemesis = make(name)
            fault = start(nemesis, ctx)
            assert fault is not None
            log.append([name, fault.down, fault.cut, fault.detail])
            stop(nemesis, ctx, fault)
        runs.append(log)
    return runs


def test_same_seed_same_victims_across_runs() -> None:
    names = [
        "kill",
        "pause",
        "partition",
        "partition-oneway",
        "partition-majorities-ring",
        "partition-bridge",
        "isolate",
    ]
    first, second = _victims_of_two_runs(names, seed=42)
    assert first == second
    other, _ = _victims_of_two_runs(names, seed=43)
    assert other != first


def test_latency_on_given_targets_delays_only_their_links() -> None:
    ctx = make_ctx(3)
    fault = start(make("latency"), ctx, ["n1"])
    assert fault is not None
    assert sorted(net(ctx).delayed) == [("n1", "n2"), ("n1", "n3"), ("n2", "n1"), ("n3", "n1")]
