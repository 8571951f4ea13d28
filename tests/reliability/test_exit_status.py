"""The exit status of a run: 0 valid, 1 an anomaly was found, 2 no verdict.

An interrupted run that had already found an anomaly exits 1: the anomaly is real
evidence even in a partial run (two leaders seen at once stay two leaders). An
interrupted run without one exits 2: what it did not observe proves nothing.
README.md's exit-status table and docs/cli.md say the same.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from chaoskit.checkers.checking import run_checkers
from chaoskit.checkers.split_brain import SplitBrainChecker
from chaoskit.run.result import RunResult
from chaoskit.store.rundir import load_run
from tests.support.eventually import eventually

from .conftest import Session, read_records


@pytest.mark.parametrize(
    ("valid", "interrupted", "error", "status"),
    [
        (True, False, None, 0),
        (False, False, None, 1),
        ("unknown", False, None, 2),
        (True, True, None, 2),  # a run cut short is never reported valid ...
        ("unknown", True, None, 2),  # ... and without a finding it has no verdict
        (False, True, None, 1),  # an anomaly found before the interruption is a finding
        (False, False, "node n2 never started", 1),
        (True, False, "node n2 never started", 2),
    ],
)
def test_exit_status_of_every_outcome(
    valid: object, interrupted: bool, error: str | None, status: int
) -> None:
    result = RunResult(Path("r"), {"valid": valid}, interrupted=interrupted, error=error)
    assert result.exit_code == status


def _split_brain_so_far(run_dir: Path) -> bool:
    """Whether the streams written so far already show two leaders at once."""
    if not (run_dir / "observations.jsonl").exists() or not read_records(run_dir / "nemesis.jsonl"):
        return False
    results = run_checkers(load_run(run_dir), {"split-brain": SplitBrainChecker()})
    return results["checkers"]["split-brain"]["valid"] is False


@pytest.mark.integration
def test_an_interrupted_run_that_found_an_anomaly_exits_1(session: Session) -> None:
    # The bully reference nodes elect a second leader in a minority partition at once.
    proc = session.spawn(
        "run",
        "--target",
        "bully",
        "--nodes",
        "3",
        "--nemesis",
        "partition",
        "--workload",
        "none",
        "--time-limit",
        "300",
        "--fault-seconds",
        "4",
        "--heal-seconds",
        "1",
        "--seed",
        "3",
        "--no-progress",
    )

    def found() -> bool:
        assert proc.poll() is None, proc.communicate()
        latest = session.cwd / "runs" / "latest"
        return latest.exists() and _split_brain_so_far(latest.resolve())

    eventually(found, "split brain in the partial streams")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in out + err
    assert proc.returncode == 1, out + err
    assert "run interrupted" in err
    assert "INVALID" in out and "(incomplete run)" in out
    config = session.config()
    assert config["finished"] is False
    assert session.registry() == []
