"""The programmatic front door: run and check from Python (the pytest plugin uses it)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaoskit.run.config import RunConfig

if TYPE_CHECKING:
    from chaoskit.run.result import RunResult


def run(config: RunConfig) -> RunResult:
    """Carry out one run synchronously and return its result (exceptions: ChaoskitError)."""
    from chaoskit.run.controller import execute

    return asyncio.run(execute(config))


def check_run(run_dir: Path, *, policy: str | None = None) -> dict[str, Any]:
    """Re-run the checkers on a stored run; returns the new ``results.json`` content."""
    from chaoskit.checkers.checking import check_stored_run

    return check_stored_run(run_dir, policy=policy)[1]
