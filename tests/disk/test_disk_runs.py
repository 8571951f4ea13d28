"""Disk nemeses in whole runs (``chaoskit run`` as a process): nothing outlives a run.

Each run gets its own ``$TMPDIR`` (where its backing directories go) and its own state
dir (registry of runs), so what it leaves is told apart from other runs on this
machine, and a finalizer removes it by run id. Checked after a normal end, after Ctrl-C,
and after a SIGKILL of the controller followed by ``chaoskit cleanup``: no mount, no
file system process, no node, no backing directory. And where FUSE is missing, the run
fails before it starts anything, with one line.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaoskit.disk import fault_mounts
from chaoskit.disk.mounts import cleanup_mounts, faultfs_pids
from chaoskit.runtimes.local import find_leftovers, kill_leftovers
from tests.support.eventually import eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 120.0
#: A run whose one fault (a power loss) lasts long enough to interrupt it mid-way.
LONG_FAULT = (
    "--nodes", "3", "--time-limit", "120", "--seed", "3", "--no-progress",
    "--workload", "set", "--fault-seconds", "60", "--heal-seconds", "2",
)  # fmt: skip


class Runs:
    """``chaoskit`` processes of one test, with their own TMPDIR and state dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "t"
        self.state = root / "state"
        self.cwd = root / "cwd"
        for path in (self.tmp, self.state, self.cwd):
            path.mkdir()
        self.procs: list[subprocess.Popen[str]] = []

    def env(self, **extra: str) -> dict[str, str]:
        return dict(
            os.environ,
            PYTHONPATH=str(REPO),
            COLUMNS="200",
            TMPDIR=str(self.tmp),
            CHAOSKIT_STATE_DIR=str(self.state),
            **extra,
        )

    def spawn(self, *args: str, **env: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaoskit", *args],
            cwd=self.cwd,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def cli(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        proc = self.spawn(*args, **env)
        out, err = proc.communicate(timeout=WAIT_S * 3)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    @property
    def run_dir(self) -> Path:
        return self.cwd / "runs" / "latest"

    def run_id(self) -> str:
        return str(json.loads((self.run_dir / "config.json").read_text())["run_id"])

    def records(self) -> list[dict[str, Any]]:
        path = self.run_dir / "nemesis.jsonl"
        if not path.exists():
            return []
        lines = path.read_text().splitlines(keepends=True)
        return [json.loads(line) for line in lines if line.endswith("\n") and line.strip()]

    def disk_root(self) -> Path:
        return self.tmp / "chaoskit-disk"


def nothing_left(runs: Runs, run_id: str) -> None:
    """No mount, file system process, node process or backing directory of ``run_id``."""
    mounts = [m for m in fault_mounts() if m.run_id == run_id]
    assert not mounts, mounts
    ours = str(runs.cwd)
    assert not [p for p, (where, _) in faultfs_pids().items() if where.startswith(ours)]
    assert not find_leftovers(run_id)
    assert not (runs.disk_root() / run_id).exists()


@pytest.fixture
def runs(fuse: None) -> Iterator[Runs]:
    root = Path(tempfile.mkdtemp(prefix="ckdr-"))  # short: control socket paths
    runs = Runs(root)
    yield runs
    for proc in runs.procs:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    for config in (runs.cwd / "runs").glob("*/*/config.json"):
        run_id = json.loads(config.read_text()).get("run_id")
        if run_id:
            kill_leftovers(run_id)
            cleanup_mounts(run_id, root=runs.disk_root())
    shutil.rmtree(root, ignore_errors=True)


def _open_fault(runs: Runs, proc: subprocess.Popen[str]) -> dict[str, Any]:
    """Wait until the run's fault has started (and not stopped); its start record."""

    def started() -> bool:
        assert proc.poll() is None, proc.communicate()
        return any(r["type"] == "start" for r in runs.records())

    eventually(started, "a fault to start", timeout=WAIT_S)
    return next(r for r in runs.records() if r["type"] == "start")


def test_without_fuse_the_run_fails_at_once_with_one_line(runs: Runs) -> None:
    res = runs.cli("run", "--nemesis", "power-loss", "--time-limit", "10", PATH="/nonexistent")
    assert res.returncode == 2, res.stdout + res.stderr
    # One line says what is wrong (a warning about other runs' leftovers on this
    # machine may come before it: it is not this run's).
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if not line.startswith("warning:")]
    assert len(errors) == 1 and errors[0].startswith("error: "), res.stderr
    assert "disk faults need FUSE: fusermount3 not found" in errors[0]
    assert "Traceback" not in res.stderr
    nothing_left(runs, runs.run_id())
    assert not runs.disk_root().exists()
    # Nothing started: no node ever wrote a log line.
    assert not list((runs.run_dir / "logs").glob("n*.log"))


def test_a_torn_write_run_ends_clean_and_leaves_nothing(runs: Runs) -> None:
    args = ("run", "--nemesis", "torn-write", "--nodes", "3", "--time-limit", "14")
    res = runs.cli(*args, "--seed", "2", "--workload", "set", "--no-progress")
    assert res.returncode == 0, res.stdout + res.stderr
    starts = [r for r in runs.records() if r["type"] == "start"]
    assert starts and all(r["fault"] == "torn-write" for r in starts)
    for record in starts:
        (node,) = record["down"]
        assert set(record["detail"]["torn"]) == {node}
    nothing_left(runs, runs.run_id())


def test_ctrl_c_during_a_power_loss_with_a_partition_leaves_nothing(runs: Runs) -> None:
    """Composed like any fault: the power loss's victims are down, the partition cuts."""
    proc = runs.spawn("run", "--nemesis", "partition&power-loss", *LONG_FAULT)
    _open_fault(runs, proc)

    def both_started() -> bool:
        return len([r for r in runs.records() if r["type"] == "start"]) >= 2

    eventually(both_started, "both parts to start", timeout=WAIT_S)
    starts = {r["fault"]: r for r in runs.records() if r["type"] == "start"}
    partition, power = starts["partition"], starts["power-loss"]
    assert partition["cut"] and power["down"] and partition["event"] != power["event"]
    assert set(power["detail"]["dropped"]) == set(power["down"])
    run_id = runs.run_id()
    assert [m for m in fault_mounts() if m.run_id == run_id]
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=WAIT_S)
    assert "Traceback" not in err, err
    nothing_left(runs, run_id)
    assert not runs.disk_root().exists()


def test_sigkill_of_the_controller_then_cleanup_leaves_nothing(runs: Runs) -> None:
    proc = runs.spawn("run", "--nemesis", "power-loss", *LONG_FAULT)
    start = _open_fault(runs, proc)
    assert start["fault"] == "power-loss" and start["down"]
    assert set(start["detail"]["dropped"]) == set(start["down"])
    run_id = runs.run_id()
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=WAIT_S)
    # The killed controller left its mounts, their processes and backing directories.
    assert len([m for m in fault_mounts() if m.run_id == run_id]) == 3
    assert (runs.disk_root() / run_id).is_dir()
    res = runs.cli("cleanup", "--run-id", run_id)
    assert res.returncode == 0, res.stderr
    assert res.stdout.count("unmounted fault file system") == 3, res.stdout
    nothing_left(runs, run_id)
    assert not runs.disk_root().exists()
