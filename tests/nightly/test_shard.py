"""Which shard a job is: ``--shard I/N`` and ``--shard auto`` from each CI engine."""

from __future__ import annotations

import pytest

from chaoskit.errors import ConfigError
from chaoskit.nightly.shard import Shard, parse_shard


@pytest.mark.parametrize(
    ("text", "shard"), [("1/1", Shard(1, 1)), ("2/5", Shard(2, 5)), (" 3 / 3 ", Shard(3, 3))]
)
def test_explicit_shards(text: str, shard: Shard) -> None:
    assert parse_shard(text, {}) == shard


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0/3", "shard 0 of 3 does not exist"),
        ("4/3", "shard 4 of 3 does not exist"),
        ("1/0", "shard 1 of 0 does not exist"),
        ("2", "expected I/N"),
        ("a/b", "expected I/N"),
        ("-1/3", "expected I/N"),
    ],
)
def test_bad_shards_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_shard(text, {})


@pytest.mark.parametrize(
    ("env", "shard"),
    [
        # GitHub Actions: the workflow sets it from strategy.matrix (1-based).
        ({"CHAOSKIT_SHARD": "2/4", "GITHUB_RUN_ID": "99"}, Shard(2, 4)),
        # GitLab parallel: CI_NODE_INDEX is 1-based.
        ({"CI_NODE_INDEX": "1", "CI_NODE_TOTAL": "3"}, Shard(1, 3)),
        ({"CI_NODE_INDEX": "3", "CI_NODE_TOTAL": "3"}, Shard(3, 3)),
        # Kubernetes Indexed Job: JOB_COMPLETION_INDEX is 0-based.
        ({"JOB_COMPLETION_INDEX": "0", "CHAOSKIT_SHARD_COUNT": "4"}, Shard(1, 4)),
        ({"JOB_COMPLETION_INDEX": "3", "CHAOSKIT_SHARD_COUNT": "4"}, Shard(4, 4)),
        # Slurm arrays: any start and step.
        (
            {
                "SLURM_ARRAY_TASK_ID": "0",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
            },
            Shard(1, 4),
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "4",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "1",
            },
            Shard(4, 4),
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "6",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_STEP": "2",
            },
            Shard(4, 4),
        ),
        # An explicit CHAOSKIT_SHARD wins over what the engine says.
        ({"CHAOSKIT_SHARD": "1/2", "CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "2"}, Shard(1, 2)),
    ],
)
def test_auto_reads_the_engines_variables(env: dict[str, str], shard: Shard) -> None:
    assert parse_shard("auto", env) == shard
    assert parse_shard("AUTO", env) == shard


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "no shard index in the environment \\(set CHAOSKIT_SHARD=I/N"),
        ({"GITHUB_RUN_ID": "99"}, "no shard index in the environment"),
        ({"JOB_COMPLETION_INDEX": "2"}, "CHAOSKIT_SHARD_COUNT is not set"),
        ({"CI_NODE_INDEX": "2"}, "CI_NODE_TOTAL is not set"),
        ({"CI_NODE_INDEX": "x", "CI_NODE_TOTAL": "3"}, "CI_NODE_INDEX='x' is not a whole number"),
        ({"CI_NODE_INDEX": "4", "CI_NODE_TOTAL": "3"}, "shard 4 of 3 does not exist"),
        ({"JOB_COMPLETION_INDEX": "4", "CHAOSKIT_SHARD_COUNT": "4"}, "shard 5 of 4"),
        ({"CHAOSKIT_SHARD": "3"}, "CHAOSKIT_SHARD: expected I/N"),
        (
            {"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "4"},
            "SLURM_ARRAY_TASK_MIN is not set",
        ),
        (
            {
                "SLURM_ARRAY_TASK_ID": "3",
                "SLURM_ARRAY_TASK_COUNT": "4",
                "SLURM_ARRAY_TASK_MIN": "0",
                "SLURM_ARRAY_TASK_STEP": "2",
            },
            "is not min 0 \\+ k x step 2",
        ),
    ],
)
def test_auto_without_a_usable_index_is_one_clear_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_shard("auto", env)


def test_a_shard_names_itself() -> None:
    assert str(Shard(2, 5)) == "2/5" and Shard(2, 5).slug == "shard-2-of-5"
