"""The matrix digest and the night id every shard of one night agrees on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chaoskit.errors import ConfigError
from chaoskit.nightly.identity import matrix_digest, resolve_night
from chaoskit.nightly.matrix import parse_matrix

BASE = """
[matrix]
targets = ["raft", "bully"]
nemeses = ["partition", "kill"]
seeds = [1, 2]
time_limit = 5
nodes = 3

[[exclude]]
target = "bully"
nemesis = "kill"
"""


def digest(text: str) -> str:
    return matrix_digest(parse_matrix(text, "m.toml"))


def test_the_digest_ignores_layout_comments_order_and_trends() -> None:
    same = """
    # the same experiment, written differently
    [trends]
    nights = 3

    [[exclude]]
    nemesis = "kill"
    target = "bully"

    [matrix]
    nodes = 3
    time_limit = 5.0    # a float is the same number
    seeds = [1, 2]
    nemeses = ["partition", "kill"]
    targets = ["raft", "bully"]
    workloads = ["none"]   # the default, spelled out
    """
    assert digest(same) == digest(BASE)
    assert len(digest(BASE)) == 64


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("seeds = [1, 2]", "seeds = [1, 2, 3]"),
        ("time_limit = 5", "time_limit = 6"),
        ("nodes = 3", "nodes = 5"),
        ('"partition", "kill"', '"kill", "partition"'),  # another order of runs
        ('nemesis = "kill"', 'nemesis = "partition"'),
        ("nodes = 3", "nodes = 3\n[options]\ntick-ms = 5"),
    ],
)
def test_the_digest_changes_with_what_decides_the_runs(old: str, new: str) -> None:
    assert old in BASE
    assert digest(BASE.replace(old, new)) != digest(BASE)


def test_the_night_id_comes_from_the_option_then_the_ci_then_the_date() -> None:
    now = datetime(2026, 3, 1, 23, 59, tzinfo=UTC)
    ci = {"GITHUB_RUN_ID": "123456", "CI_PIPELINE_ID": "77"}
    assert resolve_night("given-1", ci, now) == "given-1"
    assert resolve_night(None, ci, now) == "123456"
    assert resolve_night(None, {"CI_PIPELINE_ID": "77"}, now) == "77"
    assert resolve_night(None, {"SLURM_ARRAY_JOB_ID": "5150"}, now) == "5150"
    assert resolve_night(None, {}, now) == "2026-03-01"


@pytest.mark.parametrize("bad", ["../up", "a b", "-x", "x" * 65, "a/b"])
def test_a_night_id_must_name_a_folder(bad: str) -> None:
    with pytest.raises(ConfigError, match="--night"):
        resolve_night(bad, {})
