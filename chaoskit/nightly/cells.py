"""Carry out one cell of a nightly matrix: a run from a plain dict of settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaoskit.errors import ChaoskitError
from chaoskit.run.api import run
from chaoskit.run.config import RunConfig, parse_nemeses


def cell_config(cell: dict[str, Any]) -> RunConfig:
    """``{"target": "raft", "nemesis": "partition", "seed": 3, ...}`` -> RunConfig."""
    nemesis = cell.get("nemesis", "partition")
    if isinstance(nemesis, list):
        nemesis = ",".join(nemesis)
    return RunConfig(
        target=str(cell.get("target", "raft")),
        nemeses=parse_nemeses(str(nemesis)),
        nodes=int(cell.get("nodes", 5)),
        time_limit=float(cell.get("time_limit", 30)),
        seed=int(cell["seed"]) if cell.get("seed") is not None else None,
        workload=cell.get("workload"),
        store=Path(cell.get("store", "runs")),
        options={str(k): str(v) for k, v in (cell.get("options") or {}).items()},
        runtime=str(cell.get("runtime", "local")),
        progress=False,
    )


def run_cell(cell: dict[str, Any]) -> Path:
    """Run one matrix cell and return its run directory.

    A cell that cannot be carried out raises its ``ChaoskitError``; the nightly
    runner records it as a failed cell and goes on.
    """
    result = run(cell_config(cell))
    if result.error and not result.run_dir.exists():
        raise ChaoskitError(result.error)
    return result.run_dir
