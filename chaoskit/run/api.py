"""The programmatic front door: run and check from Python (the pytest plugin uses it)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaoskit.run.config import RunConfig

if TYPE_CHECKING:
    from chaoskit.run.result import RunResult


def run(
    config: RunConfig, *, on_anomaly: Callable[[dict[str, Any]], None] | None = None
) -> RunResult:
    """Carry out one run synchronously and return its result (exceptions: ChaoskitError).

    ``on_anomaly`` is called with each anomaly the live checks find, the moment they
    find it (in the run's event loop: it must return quickly and not raise).
    """
    from chaoskit.run.controller import execute

    return asyncio.run(execute(config, on_anomaly=on_anomaly))


def run_config(**settings: Any) -> RunConfig:
    """A ``RunConfig`` from the settings' names, as the command line, the pytest marker
    and a nightly matrix cell give them, converted and checked the same way::

        run(run_config(target="raft", nemesis="partition,kill", nodes=5, store="runs"))

    With ``scenario="file.toml"`` the file's ``[run]`` table gives the defaults of the
    settings not given here. (A ``RunConfig(scenario=...)`` built directly runs the
    file's steps only: its fields cannot tell a value given from a default.) An
    unknown name or a bad value raises ``ConfigError`` naming it.
    """
    from chaoskit.run.settings import config_from_mapping

    session: dict[str, Any] = {k: settings.pop(k) for k in ("store", "progress") if k in settings}
    return config_from_mapping(settings, where="run_config", session=session)


def check_run(run_dir: Path, *, policy: str | None = None) -> dict[str, Any]:
    """Re-run the checkers on a stored run; returns the new ``results.json`` content."""
    from chaoskit.checkers.checking import check_stored_run

    return check_stored_run(run_dir, policy=policy)[1]
