"""The registry of active runs and the pure parts of cleanup, without a cluster."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.runtimes import registry
from chaoskit.runtimes.cleanup import cleanup_leftovers, leftover_warning, mark_abandoned
from chaoskit.runtimes.registry import ActiveRun, process_token, token_alive


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAOSKIT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def _dead_token() -> str:
    """The token of a process that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    token = process_token(proc.pid)
    proc.wait()
    return token


def test_tokens_tell_live_from_dead_and_from_a_recycled_pid() -> None:
    mine = process_token()
    assert mine.startswith(f"{os.getpid()}:") and mine.split(":")[1].isdigit()
    assert token_alive(mine)
    assert not token_alive(_dead_token())
    pid, start = mine.split(":")
    assert not token_alive(f"{pid}:{int(start) + 1}")  # same pid, another process
    assert not token_alive("garbage")


def test_register_read_unregister(state: Path, tmp_path: Path) -> None:
    run = ActiveRun(
        run_id="r1",
        run_dir=str(tmp_path),
        controller=process_token(),
        proxy_url="http://127.0.0.1:1",
        proxy_prefix="ck-r1-",
        pids=[1, 2],
    )
    path = registry.register(run)
    assert path == state / "active" / "r1.json"
    assert registry.read("r1") == run
    assert registry.read_all() == [run]
    assert registry.orphaned() == []  # this process is alive
    (state / "active" / "broken.json").write_text("{not json")
    assert registry.read_all() == [run]  # a half-written entry is skipped
    registry.unregister("r1")
    registry.unregister("r1")  # idempotent
    assert registry.read("r1") is None


def test_mark_abandoned_only_unfinished_runs(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"finished": False, "seed": 3}))
    assert mark_abandoned(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"finished": False, "seed": 3, "abandoned": True}
    assert not mark_abandoned(tmp_path)  # already
    (tmp_path / "config.json").write_text(json.dumps({"finished": True}))
    assert not mark_abandoned(tmp_path)
    assert not mark_abandoned(tmp_path / "nowhere")


@pytest.mark.integration  # also asks the Docker engine, when there is one
def test_a_dead_controller_entry_is_warned_about_and_cleaned(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / "clock").mkdir(parents=True)
    (run_dir / "clock" / "n1.faketime").write_text("+0 x1\n")
    (run_dir / "config.json").write_text(json.dumps({"finished": False, "run_id": "deadrun"}))
    registry.register(
        ActiveRun(
            run_id="deadrun",
            run_dir=str(run_dir),
            controller=_dead_token(),
            clock_dir=str(run_dir / "clock"),
        )
    )
    registry.register(
        ActiveRun(run_id="liverun", run_dir=str(tmp_path / "live"), controller=process_token())
    )
    warning = leftover_warning()
    assert warning is not None and "deadrun" in warning and "liverun" not in warning
    lines = cleanup_leftovers("deadrun")
    assert f"removed clock file {run_dir / 'clock' / 'n1.faketime'}" in lines
    assert any("abandoned" in line for line in lines)
    assert not (run_dir / "clock").exists()
    assert json.loads((run_dir / "config.json").read_text())["abandoned"] is True
    assert [r.run_id for r in registry.read_all()] == ["liverun"]
    assert leftover_warning() is None
