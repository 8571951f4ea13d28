"""``chaoskit nightly``: a matrix of runs and its resilience report, on one machine or
split into shards across CI jobs (``--shard``) and merged back (``nightly merge``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click


class _MatrixOrCommand(click.Group):
    """``chaoskit nightly MATRIX ...`` is short for ``chaoskit nightly run MATRIX ...``:
    the one-machine night keeps its command, and ``merge`` sits beside it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["run", *args]
        return super().parse_args(ctx, args)

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["MATRIX [OPTIONS] | COMMAND [ARGS]..."]


@click.group(cls=_MatrixOrCommand)
def nightly() -> None:
    """Nightly matrices: `chaoskit nightly MATRIX` runs one (short for `nightly run`);
    `chaoskit nightly merge DIR...` merges the shards of a night run across CI jobs."""


@nightly.command("run", short_help="Run a matrix (or one shard of it) and report.")
@click.argument("matrix", type=click.Path(path_type=Path))
@click.option("--store", default=Path("runs"), show_default=True, type=click.Path(path_type=Path))
@click.option(
    "--shard",
    metavar="I/N|auto",
    help="Run only shard I of N (1-based) of the matrix's runs and write a shard summary "
    "for `nightly merge`; auto: read it from the CI engine (CHAOSKIT_SHARD, GitLab "
    "CI_NODE_INDEX, Kubernetes JOB_COMPLETION_INDEX, Slurm SLURM_ARRAY_TASK_ID).",
)
@click.option(
    "--night",
    envvar="CHAOSKIT_NIGHT",
    metavar="ID",
    help="The night's id, the same for every shard [env CHAOSKIT_NIGHT; default: the CI "
    "run id (GITHUB_RUN_ID, CI_PIPELINE_ID, SLURM_ARRAY_JOB_ID), else the UTC date].",
)
def run_matrix(matrix: Path, store: Path, shard: str | None, night: str | None) -> None:
    """Run a matrix of targets x nemeses x seeds and write a resilience report."""
    from chaoskit.nightly import cells
    from chaoskit.nightly.identity import resolve_night
    from chaoskit.nightly.night import run_nightly
    from chaoskit.nightly.shard import parse_shard
    from chaoskit.nightly.shard_run import run_shard

    night_id = resolve_night(night, os.environ)
    if shard is None:
        sys.exit(run_nightly(matrix, store, cells.run_cell, night=night_id))
    part = parse_shard(shard, os.environ)
    sys.exit(run_shard(matrix, store, cells.run_cell, part, night_id))


@nightly.command("merge", short_help="Merge the shards of a night into one report.")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--store",
    default=Path("runs"),
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where the night is written and the shards' runs are copied to.",
)
@click.option(
    "--night",
    envvar="CHAOSKIT_NIGHT",
    metavar="ID",
    help="Merge the shards of this night [env CHAOSKIT_NIGHT; default: the one night "
    "the folders hold].",
)
@click.option(
    "--matrix",
    "matrix_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Merge only shards of this matrix (its digest).",
)
@click.option(
    "--wait",
    "wait_s",
    type=click.FloatRange(min=0),
    default=0,
    metavar="SECONDS",
    help="Wait up to this long for every shard to finish (shards writing to a shared "
    "volume); then merge what is there.",
)
def merge(
    dirs: tuple[Path, ...],
    store: Path,
    night: str | None,
    matrix_file: Path | None,
    wait_s: float,
) -> None:
    """Merge the shard stores of one night (the shards' CI artifacts) into one night's
    report, naming every shard that is missing or did not finish."""
    from chaoskit.nightly.identity import check_night_id
    from chaoskit.nightly.matrix import load_matrix
    from chaoskit.nightly.merge import merge_night

    matrix = load_matrix(matrix_file) if matrix_file is not None else None
    sys.exit(
        merge_night(
            dirs,
            store,
            night=check_night_id(night) if night else None,
            matrix=matrix,
            wait_s=wait_s,
        )
    )
