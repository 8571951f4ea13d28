"""A real Patroni cluster (3 x etcd + Patroni + PostgreSQL 15) through ``chaoskit run``.

Each node is one process group (targets/patroni/_node.py); etcd peer traffic,
Patroni's REST calls and PostgreSQL replication go through one proxy per node and
port. Whatever verdict a run reaches is a finding (docs/targets/patroni.md): these
tests check that the run completes with a stored verdict, that SQL ops happened,
that the fault bit (the primary changed, a killed node's PostgreSQL really died
with it), and that nothing is left running.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(420)]
REPO = Path(__file__).resolve().parents[2]
#: The target's own schedule: faults of 25 s, heals of 20 s, the first fault once the
#: primary runs and both replicas stream (``ready = "roles"``).
BASE = ("run", "--target", "patroni", "--nodes", "3", "--no-progress", "--time-limit", "60")


@pytest.fixture
def store() -> Iterator[Path]:
    """Runs in a directory user postgres may traverse (pytest's base is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="chaoskit-patroni-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run(store: Path, *args: str) -> tuple[Path, dict[str, Any]]:
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, "-m", "chaoskit", *BASE, *args, "--store", str(store / "runs")],
        capture_output=True, text=True, timeout=400, cwd=store,
        env=dict(os.environ, PYTHONPATH=path, COLUMNS="200"),
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    run_dir = (store / "runs" / "latest").resolve()
    results = json.loads((run_dir / "results.json").read_text())
    assert results["valid"] in (True, False) and not results.get("incomplete"), results
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["fault_s"], config["heal_s"], config["ready"]) == (25, 20, "roles")
    assert config["ready_s"] is not None, "the replicas never streamed before the faults"
    left = subprocess.run(["pgrep", "-f", str(store)], capture_output=True, text=True)
    assert left.stdout == "", f"processes left behind: {left.stdout}"
    return run_dir, results


def _records(run_dir: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / name).read_text().splitlines()]


def _first_fault(run_dir: Path) -> dict[str, Any]:
    return next(r for r in _records(run_dir, "nemesis.jsonl") if r["type"] == "start")


def test_register_isolate_leader(store: Path) -> None:
    run_dir, results = _run(store, "--workload", "register", "--nemesis", "isolate-leader",
                            "--seed", "1")  # fmt: skip
    fault = _first_fault(run_dir)
    # Ready: before the first fault every node ran PostgreSQL (a primary, two replicas).
    before = [r for r in _records(run_dir, "observations.jsonl") if r["time"] < fault["time"]]
    assert {r["node"] for r in before if r["role"] == "follower"} >= set(
        {"n1", "n2", "n3"} - {fault["targets"][0]}
    )
    victim = fault["targets"][0]
    assert victim is not None, "no primary was observed before the first fault"
    leading = [r for r in _records(run_dir, "observations.jsonl") if r["role"] == "leader"]
    reign = max(r["term"] for r in leading if r["node"] == victim and r["time"] < fault["time"])
    later = [r for r in leading if r["time"] > fault["time"] and r["node"] != victim]
    assert later and max(r["term"] for r in later) > reign, "no other primary, later timeline"
    oks = {r["f"] for r in _records(run_dir, "history.jsonl") if r["type"] == "ok"}
    assert oks == {"read", "write", "cas"}
    assert "linearizable" in results["checkers"]


def _shared_memory() -> set[str]:
    """PostgreSQL's POSIX shared memory segments on this machine."""
    return {p.name for p in Path("/dev/shm").glob("PostgreSQL.*")}


def test_set_kill_leader_kills_the_whole_node(store: Path) -> None:
    before = _shared_memory()
    run_dir, results = _run(store, "--workload", "set", "--nemesis", "kill-leader",
                            "--seed", "5")  # fmt: skip
    # A killed PostgreSQL leaves no segment in /dev/shm (its dynamic shared memory is
    # files in its data directory).
    assert _shared_memory() <= before, "segments left in /dev/shm"
    victim = _first_fault(run_dir)["targets"][0]
    assert victim is not None
    log = (run_dir / "logs" / f"{victim}.log").read_text(errors="replace")
    # PostgreSQL died with the group: at the restart it had to recover from a crash.
    assert "not properly shut down" in log or "was interrupted" in log, "postgres survived"
    final = [r for r in _records(run_dir, "history.jsonl")
             if r["f"] == "read-set" and r["type"] == "ok"]  # fmt: skip
    assert final and len(final[-1]["value"]) > 20, "no final read of the table"
    assert results["checkers"]["lost-writes"]["valid"] in (True, False)
