"""The run settings table: one source for the CLI, the marker, the matrix and the repeat
command, and the round trip config -> command -> config for any valid configuration."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from chaoskit.cli.run import run
from chaoskit.errors import ConfigError
from chaoskit.run.config import NemesisSpec, RunConfig
from chaoskit.run.settings import (
    MAPPING_KEYS,
    SETTINGS,
    config_argv,
    config_from_argv,
    config_from_cli,
    config_from_mapping,
    config_json,
    repeat_command,
)

WORD = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=8)
NUMBER = st.floats(min_value=1e-3, max_value=1e6, allow_nan=False, allow_infinity=False)


def _single() -> st.SearchStrategy[NemesisSpec]:
    names = st.sampled_from(["partition", "kill", "isolate-leader", "clock-bump", "x-y"])
    return st.builds(NemesisSpec, names, st.dictionaries(WORD, WORD, max_size=2))


def _nemesis() -> st.SearchStrategy[NemesisSpec]:
    together = st.lists(_single(), min_size=2, max_size=3, unique_by=lambda s: s.name).map(
        lambda parts: NemesisSpec("&".join(p.name for p in parts), together=parts)
    )
    return st.one_of(_single(), together)


def _configs() -> st.SearchStrategy[RunConfig]:
    optional = st.one_of
    return st.builds(
        RunConfig,
        target=st.sampled_from(["raft", "bully", "etcd", "/abs/path/my svc.toml"]),
        nemeses=st.lists(_nemesis(), max_size=3, unique_by=str),
        nodes=st.integers(1, 15),
        time_limit=NUMBER,
        seed=optional(st.none(), st.integers(0, 2**31)),
        concurrency=optional(st.none(), st.integers(0, 200)),
        bound_clients=st.integers(0, 200),
        workload=optional(st.none(), st.sampled_from(["register", "kv", "set", "none"])),
        runtime=st.sampled_from(["local", "docker", "compose", "ssh"]),
        network=st.sampled_from(["proxy", "iptables"]),
        store=WORD.map(Path),
        options=st.dictionaries(WORD, WORD, max_size=3),
        policy=optional(st.none(), st.sampled_from(["strict", "per-term"])),
        election_deadline=optional(st.none(), NUMBER),
        checkers=optional(st.none(), st.lists(WORD, min_size=1, max_size=3)),
        toxiproxy_url=optional(st.none(), st.just("http://127.0.0.1:8474")),
        fault_s=optional(st.none(), NUMBER),
        heal_s=optional(st.none(), NUMBER),
        fail_fast=st.booleans(),
        compose_project=st.none(),
        inventory=optional(st.none(), st.just(Path("/abs/inventories/hosts 1.toml"))),
        host_clock=st.booleans(),
    )


def _valid(config: RunConfig) -> bool:
    try:
        config.validate()
    except ConfigError:
        return False
    return True


def _parsed(argv: list[str]) -> RunConfig:
    """What ``chaoskit run`` builds from ``argv`` (parsed by the real click command)."""
    assert argv[:2] == ["chaoskit", "run"]
    context = run.make_context("run", argv[2:])
    return config_from_cli(context.params)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(_configs())
def test_any_valid_config_survives_its_repeat_command(config: RunConfig) -> None:
    assume(_valid(config))
    argv = config_argv(config)
    assert shlex.split(repeat_command(config)) == argv
    assert _parsed(argv) == config
    # What replay and shrink read back from a stored run's command, without click.
    assert config_from_argv(argv) == config


def test_no_nemesis_is_written_as_none_not_left_to_the_default() -> None:
    config = RunConfig(nemeses=[], seed=3)
    assert "--nemesis none" in repeat_command(config)
    assert _parsed(config_argv(config)).nemeses == []


def test_every_setting_is_stored_in_config_json() -> None:
    stored = config_json(RunConfig(fault_s=1.5, heal_s=2.5, seed=1))
    assert {s.field for s in SETTINGS} <= set(stored)
    assert stored["fault_s"] == 1.5 and stored["heal_s"] == 2.5
    assert "--fault-seconds 1.5 --heal-seconds 2.5" in stored["command"]


def test_a_relative_spec_path_is_made_absolute(tmp_path: Path) -> None:
    config = config_from_cli({"target": "examples/raft.toml"})
    assert Path(config.target).is_absolute() and config.target.endswith("examples/raft.toml")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"time_limit": "inf"}, "finite"),
        ({"time_limit": "1e400"}, "finite"),
        ({"nemesis": ""}, "names no nemesis"),
        ({"nemesis": ","}, "names no nemesis"),
        ({"store": ""}, "non-empty"),
        ({"nodes": "five"}, "integer"),
        ({"nodes": True}, "integer"),
        ({"runtime": "k8s"}, "local, docker, compose, ssh"),
        ({"host_clock": "yes"}, "true or false"),
        ({"options": 3}, "list"),
    ],
)
def test_bad_values_name_their_setting(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(
            {k: v for k, v in values.items() if k != "store"},
            where="here",
            session={"store": values["store"]} if "store" in values else None,
        )


def test_a_marker_or_matrix_cannot_set_command_line_only_settings() -> None:
    assert "store" not in MAPPING_KEYS and "progress" not in MAPPING_KEYS
    with pytest.raises(ConfigError, match=r"^t::x: unknown setting\(s\) store"):
        config_from_mapping({"store": "x"}, where="t::x")


def test_mapping_and_cli_give_the_same_config() -> None:
    cli = _parsed(["chaoskit", "run", "-t", "bully", "-n", "kill,partition:mode=hang",
                   "--time-limit", "12.5", "-o", "a=1", "--checker", "stats"])  # fmt: skip
    mapped = config_from_mapping(
        {
            "target": "bully",
            "nemesis": ["kill", "partition:mode=hang"],
            "time_limit": 12.5,
            "options": {"a": 1},
            "checkers": ["stats"],
        },
        where="m",
    )
    assert cli == mapped


SCENARIO = """
[run]
target = "bully"
nodes = 3
time_limit = 9
options = { a = "1" }

[[step]]
nemesis = "kill"
duration = 1
"""


def test_a_scenario_file_gives_defaults_the_command_line_overrides(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    config = config_from_cli({"scenario": str(path), "nodes": "5"})
    assert config.scenario == path.resolve()
    assert (config.target, config.nodes, config.time_limit) == ("bully", 5, 9.0)
    assert config.options == {"a": "1"}
    argv = config_argv(config)
    assert "--scenario" in argv and "--nemesis" not in argv
    assert _parsed(argv) == config == config_from_argv(argv)
    marker = config_from_mapping(
        {"scenario": str(path), "options": {}}, where="t", defaults={"time_limit": 20, "nodes": 7}
    )
    assert (marker.time_limit, marker.nodes, marker.options) == (9.0, 3, {})


def test_a_scenario_and_a_nemesis_exclude_each_other(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO)
    with pytest.raises(ConfigError, match="--scenario names its own faults"):
        config_from_cli({"scenario": str(path), "nemesis": "kill"})
    path.write_text('[run]\nnemesis = "kill"\n[[step]]\ndelay = 1\n')
    with pytest.raises(ConfigError, match=r"\[run\]: nemesis cannot be set here"):
        config_from_cli({"scenario": str(path)})
    path.write_text('[run]\nstore = "x"\n[[step]]\ndelay = 1\n')
    with pytest.raises(ConfigError, match=r"s.toml: \[run\]: unknown setting\(s\) store"):
        config_from_cli({"scenario": str(path)})


def test_a_stored_command_with_an_unknown_option_is_refused() -> None:
    with pytest.raises(ConfigError, match="unknown option --frobnicate"):
        config_from_argv(["chaoskit", "run", "--frobnicate", "1"])
    with pytest.raises(ConfigError, match="ends before the value of --seed"):
        config_from_argv(["chaoskit", "run", "--seed"])
