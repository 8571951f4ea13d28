"""The Paxos reference target through ``chaoskit run``: correct passes, the bug is caught.

The correct nodes must pass ``partition`` and ``kill-leader`` under the ``strict``
policy (leases: never two leaders at once). With ``-o bug=tick-lease`` a paused
leader wakes up still claiming leadership next to its successor, and the
split-brain checker must say so on most seeds of ``pause-leader``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]
REPO = Path(__file__).resolve().parents[2]


def _run(cwd: Path, nemesis: str, seed: int, *extra: str) -> tuple[int, dict[str, Any], str]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    argv = [sys.executable, "-m", "chaoskit", "run", "--target", "paxos", "--nodes", "3"]
    argv += ["--nemesis", nemesis, "--time-limit", "16", "--seed", str(seed), "--no-progress"]
    argv += ["--fault-seconds", "3", "--heal-seconds", "3", *extra]
    env = dict(os.environ, PYTHONPATH=path, COLUMNS="200")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=200, cwd=cwd, env=env)
    results_path = cwd / "runs" / "latest" / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    return proc.returncode, results, proc.stdout + proc.stderr


@pytest.mark.parametrize("nemesis", ["partition", "kill-leader"])
def test_correct_paxos_passes(tmp_path: Path, nemesis: str) -> None:
    code, results, out = _run(tmp_path, nemesis, 1)
    assert code == 0, out
    brain = results["checkers"]["split-brain"]
    assert brain["valid"] is True and brain["metrics"]["policy"] == "strict"
    assert len(brain["metrics"]["leaders"]) >= 1


def test_tick_lease_bug_is_caught_under_pause_leader(tmp_path: Path) -> None:
    caught = []
    for seed in (1, 2, 3):
        run_dir = tmp_path / str(seed)
        run_dir.mkdir()
        code, results, out = _run(run_dir, "pause-leader", seed, "-o", "bug=tick-lease")
        assert code in (0, 1), out
        anomalies = results["checkers"]["split-brain"]["anomalies"]
        if code == 1 and anomalies:
            assert all(not a["same_term"] for a in anomalies)
            caught.append(seed)
    assert len(caught) >= 2, caught
