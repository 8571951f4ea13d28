"""Scenario files: the format read back exactly, and one-line errors naming file, step, field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from chaoskit.errors import ConfigError
from chaoskit.scenario.files import load_scenario, parse_scenario, scenario_toml, write_scenario
from chaoskit.scenario.model import Scenario, Step

EXAMPLE = """
[scenario]
name = "isolate the leader, then pause the old one"

[run]
target = "raft"
time_limit = 30
options = { bug = "stale-read" }

[[step]]
nemesis = "isolate:mode=hang"
targets = "leader"
when = "leader"
delay = 1.5
duration = 5
repeat = 3

[[step]]
when = "stable"
stable = 2

[[step]]
nemesis = "pause"
options = { count = "one" }
targets = ["old-leader", "n3"]
when = "new-leader"
timeout = 10
duration = 2

[[step]]
nemesis = "kill"
after = "start"
duration = 2
note = "together with the pause"

[[step]]
nemesis = "partition"
targets = 2
at = 25
duration = 3
"""


def test_every_field_is_read() -> None:
    scenario = parse_scenario(tomllib.loads(EXAMPLE), where="x.toml")
    assert scenario.name == "isolate the leader, then pause the old one"
    assert scenario.run == {"target": "raft", "time_limit": 30, "options": {"bug": "stale-read"}}
    first, wait, pause, kill, partition = scenario.steps
    assert first == Step(
        nemesis="isolate",
        options=(("mode", "hang"),),
        targets="leader",
        when="leader",
        delay=1.5,
        duration=5.0,
        repeat=3,
    )
    assert first.key == "isolate:mode=hang"
    assert wait.is_wait and wait.when == "stable" and wait.stable == 2.0
    assert pause.targets == ("old-leader", "n3") and pause.options == (("count", "one"),)
    assert pause.timeout == 10.0 and pause.when == "new-leader"
    assert kill.after == "start" and kill.note == "together with the pause"
    assert partition.targets == "2" and partition.at == 25.0
    assert scenario.keys == ["isolate:mode=hang", "pause:count=one", "kill", "partition"]


def test_a_written_scenario_reads_back_the_same(tmp_path: Path) -> None:
    scenario = parse_scenario(tomllib.loads(EXAMPLE), where="x.toml")
    text = scenario_toml(scenario, comments=["made by a test"])
    assert text.startswith("# made by a test\n")
    assert "[[step]]" in text
    path = write_scenario(tmp_path / "s.toml", scenario)
    assert load_scenario(path) == scenario


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ('nemesis = "kill"', "step 1: duration: a fault step needs duration = SECONDS"),
        ('nemesis = "kill"\nduration = -1', "step 1: duration: must be a positive number"),
        ('nemesis = "kill"\nduration = 1\ncolour = 3', "step 1: unknown field 'colour'"),
        ('nemesis = "a&b"\nduration = 1', "one nemesis per step"),
        ('nemesis = "kill"\nduration = 1\ntargets = "some"', "targets: 'some' is not a selector"),
        ('nemesis = "kill"\nduration = 1\ntargets = []', "targets: an empty list names no node"),
        ('nemesis = "kill"\nduration = 1\ntargets = ["all"]', "'all' is a group"),
        ('nemesis = "kill"\nduration = 1\nwhen = "soon"', "when: must be one of leader"),
        ('nemesis = "kill"\nduration = 1\nwhen = "stable"', "needs stable = SECONDS"),
        ('nemesis = "kill"\nduration = 1\nstable = 2', 'stable: only with when = "stable"'),
        ('nemesis = "kill"\nduration = 1\ntimeout = 2', "timeout: only with when"),
        ('nemesis = "kill"\nduration = 1\nat = 2\nafter = "start"', "give at (from the start)"),
        ('nemesis = "kill"\nduration = 1\nafter = "middle"', "after: must be one of end, start"),
        ('nemesis = "kill"\nduration = 1\nrepeat = 0', "repeat: must be a whole number"),
        ('nemesis = "kill"\nduration = 1\noptions = 3', "options: must be a table"),
        ('nemesis = "kill:count"\nduration = 1', "option 'count' is not of the form key=value"),
        ("delay = 0", "does nothing"),
        ('targets = "leader"\nduration = 1', "a step without a nemesis hits nobody"),
    ],
)
def test_mistakes_name_file_step_and_field(tmp_path: Path, step: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f"[[step]]\n{step}\n")
    with pytest.raises(ConfigError) as caught:
        load_scenario(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: step 1") or "unknown field" in text
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "no [[step]]"),
        ("[[step]\n", "not valid TOML"),
        ("colour = 1\n[[step]]\ndelay = 1\n", "unknown top-level key 'colour'"),
        ("run = 3\n[[step]]\ndelay = 1\n", "[run] must be a table"),
        ("[scenario]\nauthor = 'me'\n[[step]]\ndelay = 1\n", "[scenario]: unknown key 'author'"),
    ],
)
def test_file_level_mistakes(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_scenario(path)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such scenario file"):
        load_scenario(tmp_path / "nope.toml")


def test_steps_are_hashable_for_the_shrinkers_memory() -> None:
    scenario = parse_scenario(tomllib.loads(EXAMPLE), where="x.toml")
    assert len({*scenario.steps, *scenario.steps}) == len(scenario.steps)
    assert isinstance(scenario, Scenario)
