"""``chaoskit replay``, ``chaoskit shrink`` and ``--scenario`` on bad input and on runs
with nothing to do: one line, the documented exit status, no cluster started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "chaoskit", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env,
        check=False,
    )


def stored_run(tmp_path: Path, *, anomalies: list[dict[str, object]], events: int) -> Path:
    """A run directory as the controller leaves it, without running anything."""
    run = tmp_path / "runs" / "raft-kill" / "20260101T000000.000000Z"
    run.mkdir(parents=True)
    command = "chaoskit run --target raft --nemesis kill --nodes 3 --time-limit 10 --seed 1"
    (run / "config.json").write_text(
        json.dumps({"command": command, "time_limit": 10, "finished": True, "seed": 1})
    )
    (run / "results.json").write_text(
        json.dumps(
            {
                "valid": not anomalies,
                "checkers": {"split-brain": {"valid": not anomalies, "anomalies": anomalies}},
            }
        )
    )
    tape = {
        "version": 1,
        "origin_ns": 0,
        "source": "schedule",
        "events": [
            {
                "id": i + 1,
                "step": i,
                "repetition": 0,
                "nemesis": "kill",
                "options": {},
                "select": "minority",
                "nodes": ["n1"],
                "roles": {"n1": "follower"},
                "fallback": False,
                "trigger": {},
                "start": 1.0 + 3 * i,
                "end": 2.0 + 3 * i,
                "fault_id": i + 1,
                "cut_short": False,
                "note": None,
            }
            for i in range(events)
        ],
        "skipped": [],
        "leaders": [],
    }
    (run / "tape.json").write_text(json.dumps(tape))
    return run


def one_line_error(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    # One error line (a warning about another run's leftovers may come before it).
    assert len([line for line in proc.stderr.splitlines() if line.startswith("error:")]) == 1


def test_shrink_on_a_valid_run_has_nothing_to_shrink(tmp_path: Path) -> None:
    run = stored_run(tmp_path, anomalies=[], events=3)
    proc = cli(tmp_path, "shrink", str(run))
    assert proc.returncode == 0, proc.stderr
    assert "nothing to shrink" in proc.stdout and "found no anomaly" in proc.stdout
    assert not (run / "shrunk.toml").exists() and not (run / "shrink").exists()


def test_shrink_of_an_anomaly_without_faults_has_nothing_to_shrink(tmp_path: Path) -> None:
    run = stored_run(tmp_path, anomalies=[{"kind": "split-brain", "start": 1}], events=0)
    proc = cli(tmp_path, "shrink", str(run))
    assert proc.returncode == 0 and "applied no fault" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "nowhere"], "is not a chaoskit run directory"),
        (["shrink", "nowhere"], "is not a chaoskit run directory"),
        (["replay", "RUN", "--kind", "lost-write"], "the run found no 'lost-write' anomaly"),
        (["shrink", "RUN", "--budget", "0"], "--budget"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    run = stored_run(tmp_path, anomalies=[{"kind": "split-brain", "start": 1}], events=2)
    proc = cli(tmp_path, *[str(run) if a == "RUN" else a for a in args])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_a_run_without_a_tape_or_results_says_so(tmp_path: Path) -> None:
    run = stored_run(tmp_path, anomalies=[], events=0)
    (run / "tape.json").unlink()
    one_line_error(cli(tmp_path, "replay", str(run)), "has no tape.json")
    (run / "results.json").unlink()
    one_line_error(cli(tmp_path, "shrink", str(run)), "check it first")


def test_run_with_a_bad_scenario_names_file_step_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[step]]\nnemesis = "kill"\nduration = 1\n\n[[step]]\nnemesis = "x"\n')
    one_line_error(
        cli(tmp_path, "run", "--scenario", str(path)),
        f"{path}: step 2: duration: a fault step needs duration = SECONDS",
    )
    path.write_text('[[step]]\nnemesis = "partiton"\nduration = 1\n')
    one_line_error(
        cli(tmp_path, "run", "--scenario", str(path)),
        f"{path}: step 1: unknown nemesis 'partiton' (did you mean 'partition'?)",
    )
    path.write_text('[[step]]\nnemesis = "kill"\ntargets = ["n9"]\nduration = 1\n')
    one_line_error(
        cli(tmp_path, "run", "--scenario", str(path), "--nodes", "3"),
        "step 1: targets name no such node: n9 (nodes: n1, n2, n3)",
    )
    one_line_error(
        cli(tmp_path, "run", "--scenario", str(path), "--nemesis", "kill"),
        "--scenario names its own faults",
    )
    assert not any(tmp_path.glob("runs/*/*/logs/n*.log"))  # nothing was started
