"""Real runs: a scenario in a pytest test, and one planted bug end to end (fail ->
shrink with a small budget -> replay -> the shrunk scenario fails again).

The CI slice of ``benchmarks/shrink.py`` (which does every planted bug with a full
budget and random faults): ``no-step-down`` on 3 nodes, the cheapest bug to reproduce,
from a scenario of three faults of which one matters (a random schedule may not end
with the isolation the bug needs, and CI has no time to try seeds), so the whole chain
takes a few minutes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.scenario.files import load_scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]
pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]

SCENARIO = """
[run]
target = "raft"
nodes = 3
workload = "none"
time_limit = 14
seed = 5
options = { bug = "no-step-down" }

[[step]]
nemesis = "isolate"
targets = "leader"
when = "stable"
stable = 1
duration = 5
note = "cut the leader off once it has led for a second"
"""


def test_a_scenario_file_in_a_pytest_test(pytester: pytest.Pytester) -> None:
    """The marker reads the file next to the test; its keywords override [run]."""
    pytester.makeini(f"[pytest]\nchaos_store = {pytester.path / 'runs'}\n")
    (pytester.path / "stale_leader.toml").write_text(SCENARIO)
    pytester.makepyfile(
        """
        import json, pytest

        @pytest.mark.chaos(scenario="stale_leader.toml")
        def test_the_bug_is_found(chaos_run):
            kinds = [a["kind"] for a in chaos_run.anomalies("split-brain")]
            assert "stale-leader" in kinds, chaos_run.describe()
            tape = json.loads((chaos_run.run_dir / "tape.json").read_text())
            [event] = tape["events"]
            assert event["select"] == "leader" and event["trigger"]["when"] == "stable"
            assert list(event["roles"].values()) == ["leader"]
            assert tape["source"] == "scenario"

        @pytest.mark.chaos(scenario="stale_leader.toml", options={})
        def test_the_correct_raft_has_no_stale_leader(chaos_run):
            # (not assert_valid: on a loaded machine an election can stall, a
            # liveness finding the scenario is not about)
            assert chaos_run.anomalies("split-brain") == [], chaos_run.describe()
            assert json.loads((chaos_run.run_dir / "config.json").read_text())["options"] == {}
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def cli(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "chaoskit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
        check=False,
    )


THREE_FAULTS = """
[run]
target = "raft"
nodes = 3
workload = "none"
time_limit = 17
seed = 2
options = { bug = "no-step-down" }

[[step]]
nemesis = "kill"
targets = "follower"
at = 2
duration = 2

[[step]]
nemesis = "isolate"
targets = "leader"
when = "stable"
stable = 1
duration = 5

[[step]]
nemesis = "pause"
targets = "follower"
delay = 1
duration = 1.5
"""


def test_a_planted_bug_fails_shrinks_and_replays(tmp_path: Path) -> None:
    (tmp_path / "three.toml").write_text(THREE_FAULTS)
    run = cli(tmp_path, "run", "--scenario", "three.toml", "--no-progress")
    assert run.returncode == 1, run.stdout + run.stderr
    run_dir = (tmp_path / "runs" / "latest").resolve()
    tape = json.loads((run_dir / "tape.json").read_text())
    faults = [e for e in tape["events"] if e["fault_id"] is not None]
    assert len(faults) == 3, "a schedule worth shrinking"

    shrink = cli(tmp_path, "shrink", str(run_dir), "--budget", "7", "--confirm", "1")
    assert shrink.returncode == 0, shrink.stdout + shrink.stderr
    summary = json.loads((run_dir / "shrink.json").read_text())
    assert summary["kind"] == "split-brain:stale-leader"
    assert summary["shrunk"]["events"] < summary["original"]["events"]
    assert summary["reruns_total"] <= 7
    for trial in summary["trials"]:  # kept only what reproduced: 2 of 3, finer 3 of 3
        need = 2 if trial["change"].startswith("keep only") else 3
        assert trial["accepted"] == (sum(r["reproduced"] for r in trial["runs"]) >= need)
    shrunk = load_scenario(run_dir / "shrunk.toml")
    assert len(shrunk.steps) == summary["shrunk"]["events"]
    assert shrunk.run["seed"] == 2 and shrunk.run["options"] == {"bug": "no-step-down"}
    assert shrunk.run["time_limit"] < 17
    # The isolation is the fault that matters; within a budget of 7 a run that missed
    # by chance can leave one more fault in (it did once in CI: kill + isolate).
    [isolate] = [s for s in shrunk.steps if s.nemesis == "isolate"]
    assert isolate.targets == "leader"  # a role stays a role
    assert "chaoskit run --scenario" in shrink.stdout
    assert "shrink-steps" in (run_dir / "report.html").read_text()
    assert any(run_dir.glob("shrink/*/shrink.toml")), "each candidate's scenario is kept"

    again = cli(tmp_path, "run", "--scenario", str(run_dir / "shrunk.toml"), "--no-progress")
    assert again.returncode in (0, 1), again.stderr  # it reproduces most of the time, not always

    replay = cli(tmp_path, "replay", str(run_dir), "--times", "1")
    assert replay.returncode in (0, 1), replay.stdout + replay.stderr
    report = json.loads((run_dir / "replay.json").read_text())
    assert report["times"] == 1 and report["kind"] == "split-brain:stale-leader"
    [rerun] = report["runs"]
    config = json.loads((Path(rerun["run_dir"]) / "config.json").read_text())
    assert config["replay_of"] == str(run_dir) and config["purpose"] == "replay"
    assert config["seed"] == 2
