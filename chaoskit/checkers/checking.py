"""Run the checkers over a stored run and write ``results.json``.

Checkers are pure functions of the streams; one that raises yields ``unknown`` with
the error, never a lost run. An incomplete run (interrupted, torn last line) is
never reported as valid: at best ``unknown``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from chaoskit.core import plugins
from chaoskit.core.checker import Checker, CheckResult, RunData, Verdict, merge_verdicts
from chaoskit.store.rundir import RESULTS, load_run, resolve_run_dir, write_json


def run_checkers(run: RunData, checkers: dict[str, Checker]) -> dict[str, Any]:
    """Every checker's result and the merged verdict, as stored in ``results.json``."""
    results: dict[str, CheckResult] = {}
    timings: dict[str, float] = {}
    for name, checker in checkers.items():
        started = time.perf_counter()
        try:
            results[name] = checker.check(run)
        except Exception as exc:  # noqa: BLE001 - a crashed checker gives unknown
            results[name] = CheckResult(valid="unknown", error=f"{type(exc).__name__}: {exc}")
        timings[name] = round(time.perf_counter() - started, 4)
    verdict: Verdict = merge_verdicts([r.valid for r in results.values()])
    if run.incomplete and verdict is True:
        verdict = "unknown"
    return {
        "valid": verdict,
        "incomplete": run.incomplete,
        "checkers": {name: r.to_json() for name, r in results.items()},
        "check_seconds": timings,
    }


#: The checkers of every run; a workload adds its own (``Workload.checkers``).
LEADER_CHECKERS = ("split-brain", "stalled-election", "stats")


def checkers_for(config: dict[str, Any]) -> dict[str, Checker]:
    """The checkers a stored run asked for."""
    names: list[str] = config.get("checkers") or list(LEADER_CHECKERS)
    return {name: plugins.load("checkers", name) for name in names}


def check_stored_run(run_dir: Path, *, policy: str | None = None) -> tuple[Path, dict[str, Any]]:
    """Re-run the checkers on a stored run and rewrite its ``results.json``."""
    run_dir = resolve_run_dir(run_dir)
    run = load_run(run_dir)
    if policy:
        run.config["policy"] = policy
    results = run_checkers(run, checkers_for(run.config))
    write_json(run_dir / RESULTS, results)
    return run_dir, results


def anomalies_of(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(checker, anomaly) pairs in checker order."""
    return [
        (name, anomaly)
        for name, res in results.get("checkers", {}).items()
        for anomaly in res.get("anomalies", [])
    ]
