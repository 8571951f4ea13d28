"""Before the first fault: the readiness rule (run/ready.py), the settle time in the
schedule (run/schedule.py), and what a plan checks of a target's ports and timing."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaoskit.core.target import Port, TargetBase
from chaoskit.errors import ConfigError
from chaoskit.run.config import NemesisSpec, RunConfig
from chaoskit.run.plan import plan_run
from chaoskit.run.ready import unready, wait_until_ready
from chaoskit.run.schedule import build_schedule, schedule_rng

IDS = ["n1", "n2", "n3"]


@pytest.mark.parametrize(
    ("rule", "roles", "why"),
    [
        ("answer", {"n1": "candidate", "n2": "follower", "n3": "candidate"}, []),
        ("answer", {"n1": "leader", "n2": "down"}, ["n2: down", "n3: no answer"]),
        ("leader", {"n1": "follower", "n2": "follower", "n3": "candidate"}, ["no leader"]),
        ("leader", {"n1": "leader", "n2": "candidate", "n3": "candidate"}, []),
        ("roles", {"n1": "leader", "n2": "candidate", "n3": "follower"}, ["n2: candidate"]),
        ("roles", {"n1": "follower", "n2": "follower", "n3": "follower"}, ["no leader"]),
        ("roles", {"n1": "follower", "n2": "leader", "n3": "follower"}, []),
    ],
)
def test_readiness_rules(rule: Any, roles: dict[str, str], why: list[str]) -> None:
    assert unready(rule, roles, IDS) == why


class Scripted:
    """An observer whose answers change on a timetable (seconds from creation)."""

    def __init__(self, script: list[tuple[float, dict[str, str]]]) -> None:
        self.script = script
        self.start = asyncio.get_running_loop().time()

    def roles(self) -> dict[str, str]:
        now = asyncio.get_running_loop().time() - self.start
        return [roles for at, roles in self.script if at <= now][-1]


class Slow(TargetBase):
    name = "slow"
    ready = "roles"
    election_deadline = 1.0


async def test_waits_until_the_rule_holds_and_says_how_long() -> None:
    building = {"n1": "leader", "n2": "candidate", "n3": "candidate"}
    built = {"n1": "leader", "n2": "follower", "n3": "follower"}
    observer = Scripted([(0.0, building), (0.3, built)])
    warnings: list[str] = []
    took = await wait_until_ready(cast(Any, observer), Slow(), IDS, warnings.append)
    assert took is not None and 0.3 <= took < 5 and warnings == []


async def test_a_cluster_that_never_gets_ready_warns_and_goes_on() -> None:
    observer = Scripted([(0.0, {"n1": "candidate", "n2": "candidate", "n3": "down"})])
    warnings: list[str] = []
    took = await wait_until_ready(cast(Any, observer), Slow(), IDS, warnings.append, timeout=0.2)
    assert took is None
    assert warnings == [
        "the cluster was not ready (roles) after 0.2 s (n3: down, n1: candidate, "
        "n2: candidate); the fault schedule starts anyway"
    ]


@given(seed=st.integers(0, 10_000), settle=st.floats(0, 50))
def test_no_fault_before_the_settle_time(seed: int, settle: float) -> None:
    steps = build_schedule(
        ["kill", "partition"],
        time_limit=60,
        fault_s=5,
        heal_s=5,
        rng=schedule_rng(seed),
        settle_s=settle,
    )
    assert steps and steps[0].at >= round(settle, 3) - 0.001
    assert all(s.at <= 60 for s in steps)


def test_settle_zero_keeps_every_schedule() -> None:
    """Targets without a settle time draw exactly the schedules they drew before."""
    for seed in range(50):
        args: dict[str, Any] = {"time_limit": 40, "fault_s": 4, "heal_s": 4}
        plain = build_schedule(["kill"], rng=schedule_rng(seed), **args)
        zero = build_schedule(["kill"], rng=schedule_rng(seed), settle_s=0.0, **args)
        assert plain == zero


def test_a_long_settle_in_a_short_run_still_gets_one_fault_after_it() -> None:
    steps = build_schedule(
        ["kill"], time_limit=12, fault_s=10, heal_s=10, rng=schedule_rng(1), settle_s=6
    )
    assert [(s.at, s.action) for s in steps] == [(6.0, "start"), (9.0, "stop")]


class Declared(TargetBase):
    name = "declared"
    description = "a target with its own schedule lengths and settle time"
    default_policy = "strict"
    election_timeout = 5.0
    election_deadline = 20.0
    workloads = ("none",)
    settle_s = 8.0
    fault_s = 12.0
    heal_s = 9.0


def _plan(target: TargetBase, **kw: Any) -> Any:
    config = RunConfig(target=target, nemeses=[NemesisSpec("kill")], time_limit=30, **kw)
    return plan_run(config.with_seed())


def test_a_target_s_own_fault_and_heal_lengths_are_its_defaults() -> None:
    assert (_plan(Declared()).config.fault_s, _plan(Declared()).config.heal_s) == (12.0, 9.0)
    given_lengths = _plan(Declared(), fault_s=3.0, heal_s=4.0).config
    assert (given_lengths.fault_s, given_lengths.heal_s) == (3.0, 4.0)  # the options win


def test_a_settle_time_longer_than_the_run_is_a_config_error() -> None:
    target = Declared()
    target.settle_s = 40.0
    with pytest.raises(ConfigError, match="--time-limit 30 leaves no time for faults: "):
        _plan(target)
    target.settle_s = 8.0
    assert _plan(target).target.settle_s == 8.0


@pytest.mark.parametrize(
    ("ports", "message"),
    [
        ((), "declares no ports"),
        ((Port("a", True), Port("a")), "declares a port twice: a, a"),
        ((Port("client"),), "declares no peer port (ports: client)"),
    ],
)
def test_ports_a_plan_refuses(ports: tuple[Port, ...], message: str) -> None:
    target = Declared()
    target.ports = ports
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _plan(target)
