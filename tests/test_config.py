"""RunConfig parsing and validation: bad input is a ConfigError naming the field."""

from __future__ import annotations

import pytest

from chaoskit.core.plugins import unknown_message
from chaoskit.errors import ConfigError
from chaoskit.run.config import NemesisSpec, RunConfig, parse_nemeses, parse_options
from chaoskit.run.settings import config_json, repeat_command


def test_nemesis_specs_with_options() -> None:
    specs = parse_nemeses("kill,partition:mode=hang;count=2")
    assert specs == [NemesisSpec("kill"), NemesisSpec("partition", {"mode": "hang", "count": "2"})]
    assert str(specs[1]) == "partition:mode=hang;count=2"
    assert parse_nemeses("none") == []


def test_options_must_be_key_value() -> None:
    assert parse_options(["bug=stale-read", "tick-ms=5"]) == {"bug": "stale-read", "tick-ms": "5"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_options(["bug"])


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("nodes", 0, "--nodes"),
        ("nodes", 99, "--nodes"),
        ("time_limit", -1, "--time-limit"),
        ("concurrency", -2, "--concurrency"),
        ("seed", -5, "--seed"),
        ("policy", "loose", "--policy"),
    ],
)
def test_invalid_numbers_are_rejected(field: str, value: object, match: str) -> None:
    config = RunConfig()
    setattr(config, field, value)
    with pytest.raises(ConfigError, match=match):
        config.validate()


def test_seed_is_fixed_and_in_the_repeat_command() -> None:
    config = RunConfig(target="bully", options={"bug": "x"}).with_seed()
    assert config.seed is not None
    cmd = repeat_command(config)
    assert f"--seed {config.seed}" in cmd
    assert "--target bully" in cmd
    assert "-o bug=x" in cmd
    assert config_json(config)["seed"] == config.seed


def test_did_you_mean() -> None:
    msg = unknown_message("nemesis", "partiton", ["partition", "kill"])
    assert msg == "unknown nemesis 'partiton' (did you mean 'partition'?)"
    assert "known: kill, partition" in unknown_message("nemesis", "zzz", ["partition", "kill"])
