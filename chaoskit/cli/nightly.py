"""``chaoskit nightly``: a matrix of runs and its resilience report."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command()
@click.argument("matrix", type=click.Path(path_type=Path))
@click.option("--store", default=Path("runs"), show_default=True, type=click.Path(path_type=Path))
def nightly(matrix: Path, store: Path) -> None:
    """Run a matrix of targets x nemeses x seeds and write a resilience report."""
    from chaoskit.nightly.cells import run_cell
    from chaoskit.nightly.night import run_nightly

    sys.exit(run_nightly(matrix, store, run_cell))
