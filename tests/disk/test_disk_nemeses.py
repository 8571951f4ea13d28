"""The disk nemeses against a fake runtime and a fake Disk: victims, options, fault data.

Pure and fast: what each nemesis asks of the run's ``Disk`` and ``Runtime``, and what
it writes into the fault log. The real file systems are exercised in
test_node_disks.py and test_disk_runs.py.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from chaoskit.core import plugins
from chaoskit.core.disk import Disk, DiskNemesis, needs_disk
from chaoskit.core.nemesis import NemesisContext
from chaoskit.core.target import NodeInfo
from chaoskit.errors import ConfigError, SetupError
from chaoskit.nemeses import disk as disk_nemeses
from chaoskit.run.config import NemesisSpec, RunConfig
from chaoskit.run.plan import build_nemeses, build_nemesis, plan_run
from chaoskit.scenario.targets import Resolved, resolve

DISK_NEMESES = (
    "power-loss",
    "power-loss-majority",
    "power-loss-all",
    "power-loss-leader",
    "torn-write",
    "corrupt-minority",
)


class FakeRuntime:
    """Who is down; the calls made."""

    name = "fake"

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.down: set[str] = set()

    async def start(self, node: str) -> None:
        self.calls.append(("start", node))
        self.down.discard(node)

    async def kill(self, node: str) -> None:
        self.calls.append(("kill", node))
        self.down.add(node)

    def is_running(self, node: str) -> bool:
        return node not in self.down


class FakeDisk:
    """Records each fault; a power loss takes the nodes down, as the real one does."""

    def __init__(self, runtime: FakeRuntime) -> None:
        self.runtime = runtime
        self.calls: list[tuple[str, Any]] = []

    async def power_loss(self, nodes: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.calls.append(("power_loss", list(nodes)))
        self.runtime.down.update(nodes)
        return {n: {"dropped_files": 1, "dropped_bytes": 4096, "dropped_ops": 2} for n in nodes}

    async def torn_write(self, node: str, rng: random.Random) -> dict[str, Any]:
        self.calls.append(("torn_write", node))
        self.runtime.down.add(node)
        torn = {"path": "log", "offset": 10, "length": 20, "kept": 7}
        return {
            "node": node,
            "dropped_files": 0,
            "dropped_bytes": 0,
            "dropped_ops": 0,
            "torn": torn,
        }

    async def corrupt(
        self,
        node: str,
        rng: random.Random,
        *,
        mode: str = "bitflip",
        pattern: str | None = None,
        bits: int = 1,
    ) -> dict[str, Any]:
        assert not self.runtime.is_running(node), "corrupting a running node"
        self.calls.append(("corrupt", (node, mode, pattern, bits)))
        return {"node": node, "mode": mode, "path": "log"}


class Leaders:
    """The leader stream as the engine sees it."""

    def __init__(self, current: str | None) -> None:
        self.current = current
        self.previous: str | None = None


def aimed(nemesis: Any, ctx: NemesisContext, leader: str | None = None) -> Resolved:
    """The nodes the engine hands ``nemesis`` when a step names no targets."""
    return resolve(nemesis.default_targets, ctx.ids, ctx.rng, Leaders(leader))


def start(nemesis: Any, ctx: NemesisContext, leader: str | None = None) -> Any:
    return asyncio.run(nemesis.start(ctx, list(aimed(nemesis, ctx, leader).nodes)))


def make_ctx(n: int = 5, *, disk: bool = True) -> NemesisContext:
    nodes = [
        NodeInfo(f"n{i}", i, "127.0.0.1", {"api": 9000 + i}, Path(f"/tmp/ck-fake/n{i}"))
        for i in range(1, n + 1)
    ]
    runtime = FakeRuntime()
    return NemesisContext(
        nodes=nodes,
        rng=random.Random(1),
        runtime=runtime,  # type: ignore[arg-type]
        network=None,  # type: ignore[arg-type]
        disk=FakeDisk(runtime) if disk else None,
    )


def make(name: str, **options: str) -> Any:
    return build_nemesis(NemesisSpec(name, dict(options)))


def test_every_disk_nemesis_is_registered_and_declares_the_disk() -> None:
    for name in DISK_NEMESES:
        nemesis = plugins.load("nemeses", name)
        assert isinstance(nemesis, DiskNemesis) and nemesis.needs_disk, name
    assert not needs_disk([plugins.load("nemeses", "kill"), plugins.load("nemeses", "partition")])
    assert isinstance(FakeDisk(FakeRuntime()), Disk)


def test_faults_applied_together_need_the_disk_when_a_part_does() -> None:
    together = build_nemeses(NemesisSpec.parse("partition&power-loss-leader"))
    assert needs_disk(together.values())
    assert not needs_disk(build_nemeses(NemesisSpec.parse("partition&kill")).values())


@pytest.mark.parametrize(
    ("name", "count"),
    [("power-loss", (1, 2)), ("power-loss-majority", (3, 3)), ("power-loss-all", (5, 5))],
)
def test_power_loss_hits_its_share_at_one_instant_and_restarts_at_heal(
    name: str, count: tuple[int, int]
) -> None:
    ctx = make_ctx()
    nemesis = make(name)
    fault = start(nemesis, ctx)
    assert fault is not None
    disk: Any = ctx.disk
    assert [c[0] for c in disk.calls] == ["power_loss"]  # one call: one instant for all
    victims = disk.calls[0][1]
    assert count[0] <= len(victims) <= count[1]
    assert fault.down == victims == fault.detail["nodes"]
    assert fault.detail["action"] == "power-loss"
    assert fault.detail["dropped"] == {n: {"files": 1, "bytes": 4096, "ops": 2} for n in victims}
    asyncio.run(nemesis.stop(ctx, fault))
    runtime: Any = ctx.runtime
    assert runtime.calls == [("start", n) for n in victims]
    assert not runtime.down


def test_power_loss_count_option() -> None:
    ctx = make_ctx()
    fault = start(make("power-loss", count="4"), ctx)
    assert fault is not None and len(fault.down) == 4
    with pytest.raises(ConfigError, match="count"):
        make("power-loss", count="several")
    with pytest.raises(ConfigError, match="no option 'count'"):
        make("power-loss-majority", count="one")


def test_power_loss_leader_hits_the_leader_or_a_random_node() -> None:
    ctx, nemesis = make_ctx(), make("power-loss-leader")
    assert not aimed(nemesis, ctx, "n3").fallback
    fault = start(nemesis, ctx, "n3")
    assert fault is not None and fault.down == ["n3"]
    assert aimed(nemesis, ctx, None).fallback  # nobody leads: a random node, said so
    fault = start(nemesis, make_ctx(), None)
    assert fault is not None and len(fault.down) == 1


def test_torn_write_records_what_survived() -> None:
    ctx = make_ctx()
    fault = start(make("torn-write"), ctx)
    assert fault is not None and len(fault.down) == 1
    node = fault.down[0]
    assert fault.detail["torn"][node]["torn"] == {
        "path": "log",
        "offset": 10,
        "length": 20,
        "kept": 7,
    }


def test_corrupt_minority_kills_first_then_corrupts_with_its_options() -> None:
    ctx = make_ctx()
    nemesis = make("corrupt-minority", mode="truncate", pattern="*.jsonl", bits="3")
    fault = start(nemesis, ctx)
    assert fault is not None and 1 <= len(fault.down) <= 2
    disk: Any = ctx.disk
    assert disk.calls == [("corrupt", (n, "truncate", "*.jsonl", 3)) for n in fault.down]
    runtime: Any = ctx.runtime
    assert runtime.calls == [("kill", n) for n in fault.down]
    assert set(fault.detail["corrupted"]) == set(fault.down)
    asyncio.run(nemesis.stop(ctx, fault))
    assert not runtime.down
    with pytest.raises(ConfigError, match="mode must be one of bitflip, truncate"):
        make("corrupt-minority", mode="shred")
    with pytest.raises(ConfigError, match="bits must be at least 1"):
        make("corrupt-minority", bits="0")


def test_a_run_without_the_disk_says_how_to_get_it() -> None:
    ctx = make_ctx(disk=False)
    with pytest.raises(SetupError, match="name it in the run's nemeses"):
        start(make("power-loss"), ctx)


def test_the_plan_of_a_disk_run_is_refused_for_compose_at_launch() -> None:
    """``compose`` nodes run the compose file's commands: no fault file system under them."""
    from chaoskit.run.launch import LaunchContext, _disk_faults

    config = RunConfig(nemeses=[NemesisSpec("power-loss")], runtime="compose")
    plan = plan_run(config)
    ctx: Any = LaunchContext(
        plan, Path("/nonexistent"), "abc", 1, None, None, None, lambda: None, print
    )  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="disk nemeses need --runtime local or docker"):
        _disk_faults(ctx)


def test_the_nemeses_module_lists_every_disk_nemesis() -> None:
    doc = disk_nemeses.__doc__ or ""
    for name in DISK_NEMESES:
        assert f"``{name}``" in doc
