"""Every nemesis checks its options against the cluster size before a run starts
(``Nemesis.check_cluster``), and numeric options have bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.core import plugins
from chaoskit.core.nemesis import Nemesis
from chaoskit.errors import ConfigError
from chaoskit.run.config import RunConfig, parse_nemeses
from chaoskit.run.plan import build_nemeses, build_nemesis, plan_run


@pytest.mark.parametrize("name", plugins.names("nemeses"))
def test_every_nemesis_implements_the_whole_contract(name: str) -> None:
    nemesis = plugins.load("nemeses", name)
    assert isinstance(nemesis, Nemesis)
    nemesis.check_cluster(1)  # defaults fit any cluster, a single node included


@pytest.mark.parametrize("name", ["kill", "pause", "clock-bump", "clock-strobe", "clock-rate"])
def test_a_count_must_fit_the_cluster(name: str) -> None:
    nemesis = build_nemesis(parse_nemeses(f"{name}:count=5")[0])
    nemesis.check_cluster(5)
    with pytest.raises(ConfigError, match=f"nemesis '{name}': count=5 is more than the 4 node"):
        nemesis.check_cluster(4)


def test_parts_applied_together_are_checked_each() -> None:
    parts = build_nemeses(parse_nemeses("partition&kill:count=3")[0]).values()
    for nemesis in parts:
        nemesis.check_cluster(3)
    with pytest.raises(ConfigError, match="count=3 is more than the 2 node"):
        for nemesis in parts:
            nemesis.check_cluster(2)


def test_the_plan_checks_the_nemeses_against_the_nodes() -> None:
    with pytest.raises(ConfigError, match="count=999 is more than the 5 node"):
        plan_run(RunConfig(nemeses=parse_nemeses("kill:count=999")))
    plan_run(RunConfig(nemeses=parse_nemeses("kill:count=all,pause:count=majority")))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("latency:latency_ms=60001", "latency_ms must be at most 60000"),
        ("latency:jitter_ms=1" + "0" * 12, "jitter_ms must be at most 60000"),
        ("latency:latency_ms=-1", "at least 0"),
        ("kill:count=²", "must be a positive number"),
    ],
)
def test_bounded_options(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        build_nemesis(parse_nemeses(spec)[0])


def test_a_schedule_of_too_many_faults_is_refused_once_defaults_are_known() -> None:
    # Only --fault-seconds is given; the heal length comes from the target (2 s for raft).
    config = RunConfig(time_limit=86_400, fault_s=0.1)
    with pytest.raises(ConfigError, match="at most 10000 per run"):
        plan_run(config)
    plan_run(RunConfig(time_limit=86_400, fault_s=0.1, nemeses=[]))  # no fault, no schedule


def test_clock_faults_are_refused_for_compose_nodes_from_flags_and_scenario_files(
    tmp_path: Path,
) -> None:
    """Compose starts its nodes without libfaketime: a clock fault, named by --nemesis
    or by a step of a scenario file, is refused when the run is planned."""
    compose = tmp_path / "docker-compose.yml"
    compose.write_text("services: {}\n")
    refused = "clock nemeses need --runtime local, docker or ssh"
    flags = RunConfig(runtime="compose", compose_file=compose, nemeses=parse_nemeses("clock-bump"))
    with pytest.raises(ConfigError, match=refused):
        plan_run(flags)
    scenario = tmp_path / "clock.toml"
    scenario.write_text('[[step]]\nnemesis = "clock-bump"\nat = 1\nduration = 1\n')
    with pytest.raises(ConfigError, match=refused):
        plan_run(RunConfig(runtime="compose", compose_file=compose, scenario=scenario))
