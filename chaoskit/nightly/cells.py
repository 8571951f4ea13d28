"""Carry out one cell of a nightly matrix: a run from the cell's settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaoskit.errors import ChaoskitError
from chaoskit.run.api import run
from chaoskit.run.config import RunConfig
from chaoskit.run.settings import config_from_mapping


def cell_config(cell: dict[str, Any]) -> RunConfig:
    """``{"target": "raft", "nemesis": "partition", "seed": 3, ..., "store": "runs"}``
    -> RunConfig; the keys are the run settings (``chaoskit.run.settings``)."""
    settings = {k: v for k, v in cell.items() if k != "store" and v is not None}
    where = f"matrix cell {cell.get('target')} / {cell.get('nemesis')} / seed {cell.get('seed')}"
    session = {"store": cell.get("store", "runs"), "progress": False}
    return config_from_mapping(settings, where=where, session=session)


def run_cell(cell: dict[str, Any]) -> Path:
    """Run one matrix cell and return its run directory.

    A cell that cannot be carried out raises its ``ChaoskitError``; the nightly
    runner records it as a failed cell and goes on. A run cut short by Ctrl-C or
    SIGTERM (stored, torn down) raises ``KeyboardInterrupt``: the signal was meant for
    the night, which stops there (a shard then says it was interrupted).
    """
    result = run(cell_config(cell))
    if result.interrupted:
        raise KeyboardInterrupt(f"run interrupted; partial run stored in {result.run_dir}")
    if result.error and not result.run_dir.exists():
        raise ChaoskitError(result.error)
    return result.run_dir
