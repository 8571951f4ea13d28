"""``chaoskit.run_config``: settings by the command line's names from Python, a scenario
file's ``[run]`` table below them, and one real run that shows the table applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit import ConfigError, RunConfig, run, run_config

SCENARIO = """
[run]
target = "raft"
nodes = 3
workload = "none"
time_limit = 4
options = { "tick-ms" = "10" }

[[step]]
nemesis = "kill"
targets = "follower"
at = 1
duration = 1
"""


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    path = tmp_path / "kill_a_follower.toml"
    path.write_text(SCENARIO)
    return path


def test_the_run_table_gives_the_defaults_and_the_settings_win(scenario: Path) -> None:
    config = run_config(scenario=str(scenario), time_limit=6, store="elsewhere")
    assert (config.target_name, config.nodes, config.workload) == ("raft", 3, "none")
    assert config.time_limit == 6  # given here: over the file's 4
    assert config.store == Path("elsewhere")
    assert config.options == {"tick-ms": "10"}
    assert RunConfig(scenario=scenario).nodes != 3  # built directly: the steps only


def test_names_and_values_are_checked_as_on_the_command_line(scenario: Path) -> None:
    with pytest.raises(ConfigError, match=r"run_config: unknown setting.*nodez"):
        run_config(nodez=3)
    with pytest.raises(ConfigError, match="run_config: --nodes must be an integer"):
        run_config(nodes="many")
    with pytest.raises(ConfigError, match="leave out --nemesis"):
        run_config(scenario=str(scenario), nemesis="kill")


@pytest.mark.integration
def test_a_run_from_python_applies_the_scenario_run_table(scenario: Path, tmp_path: Path) -> None:
    result = run(run_config(scenario=str(scenario), seed=3, store=tmp_path, progress=False))
    assert result.error is None, result.error
    config = json.loads((result.run_dir / "config.json").read_text())
    assert (config["nodes"], config["time_limit"], config["workload"]) == (
        ["n1", "n2", "n3"],
        4.0,
        "none",
    )
    tape = json.loads((result.run_dir / "tape.json").read_text())
    assert [event["nemesis"] for event in tape["events"]] == ["kill"]
    assert tape["source"] == "scenario"
