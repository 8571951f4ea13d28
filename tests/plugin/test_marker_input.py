"""The chaos marker's input, checked before anything runs: every mistake is a
``pytest.UsageError`` naming the test, never a raw Python error or a silent default."""

from __future__ import annotations

from typing import Any

import pytest

from chaoskit.pytest_plugin import OPT_TIME_SCALE, build_config


class Options:
    """What ``build_config`` reads of a pytest config: options and ini values."""

    def __init__(self, **values: Any) -> None:
        self.values = values

    def getoption(self, name: str) -> Any:
        return self.values.get(name)

    def getini(self, name: str) -> Any:
        return None


def build(*args: Any, session: Options | None = None, **kwargs: Any) -> Any:
    pyconfig: Any = session or Options()
    return build_config(args, kwargs, pyconfig, "test_x.py::test_y")


def test_a_valid_marker_builds_its_config() -> None:
    config = build(target="bully", nemesis="kill", nodes=3, time_limit=5)
    assert (config.target, [str(n) for n in config.nemeses], config.nodes) == ("bully", ["kill"], 3)
    assert config.time_limit == 5 and config.seed is not None


def test_positional_arguments_are_refused_not_ignored() -> None:
    # @pytest.mark.chaos("bully", "kill") once ran raft under partition, and passed.
    with pytest.raises(pytest.UsageError, match=r"give @pytest\.mark\.chaos its settings by name"):
        build("bully", "kill")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nodes": [3]}, "--nodes must be an integer"),
        ({"nodes": True}, "--nodes must be an integer"),
        ({"time_limit": "soon"}, "--time-limit must be a number"),
        ({"time_limit": float("inf")}, "finite"),
        ({"time_limit": 1e308}, "--time-limit must be at most 86400 s"),
        ({"nemesis": ""}, "names no nemesis"),
        ({"nemesis": 5}, "names no nemesis"),
        ({"nemesis": "kill:count=9", "nodes": 5}, None),  # checked when planned
        ({"seed": "x"}, "--seed must be an integer"),
        ({"progress": False}, "unknown setting"),
        ({"targt": "raft"}, "unknown setting"),
        ({"options": 5}, "must be a list"),
        ({"fault_seconds": 0.001}, "at least 0.1 s"),
        ({"concurrency": -1}, "--concurrency must be between 0 and 200"),
    ],
)
def test_wrong_values_are_usage_errors_naming_the_test(
    kwargs: dict[str, Any], message: str | None
) -> None:
    if message is None:
        build(**kwargs)
        return
    with pytest.raises(pytest.UsageError, match=message) as err:
        build(**kwargs)
    assert "test_x.py::test_y" in str(err.value)


def test_a_time_scale_that_makes_the_run_endless_is_refused() -> None:
    with pytest.raises(pytest.UsageError, match="at most 86400 s"):
        build(time_limit=20, session=Options(**{OPT_TIME_SCALE: "1e307"}))
    with pytest.raises(pytest.UsageError, match="finite"):
        build(time_limit=20, session=Options(**{OPT_TIME_SCALE: "inf"}))
