"""Bad input: one clear line on stderr, exit status 2, never a traceback or a cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.runtimes.local import find_leftovers

from .conftest import chaoskit_cli

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["run", "--nemesis", "partiton"],
            "unknown nemesis 'partiton' (did you mean 'partition'?)",
        ),
        (["run", "--target", "raf"], "unknown target 'raf' (did you mean 'raft'?)"),
        (["run", "--workload", "regster"], "unknown workload 'regster' (did you mean 'register'?)"),
        (["run", "--checker", "split-brian"], "did you mean 'split-brain'?"),
        (["run", "--nodes", "0"], "--nodes must be between 1 and 15"),
        (["run", "--time-limit", "-3"], "--time-limit must be positive"),
        (["run", "--nodes", "five"], "--nodes must be an integer, not 'five'"),
        (["run", "-o", "bug"], "is not of the form key=value"),
        (["run", "-o", "bug=no-such-bug"], "no-such-bug"),
        (["run", "--target", "bully", "--workload", "register"], "does not support"),
        (["run", "--target", "missing.toml"], "no such target spec file"),
        (["run", "--runtime", "k8s"], "--runtime must be one of local, docker, compose, ssh"),
        (["run", "--runtime", "ssh"], "--runtime ssh needs --inventory FILE"),
        (["run", "--inventory", "hosts.toml"], "--inventory needs --runtime ssh"),
        (["run", "--runtime", "ssh", "--inventory", "nope.toml"], "cannot read inventory"),
        (["check", "nowhere"], "is not a chaoskit run directory"),
        (["check-history", "nowhere.jsonl", "--model", "register"], "no such history file"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(store: Path, args: list[str], message: str) -> None:
    res = chaoskit_cli(store, *args)
    assert res.code == 2, res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert len([line for line in res.stderr.splitlines() if line.strip()]) <= 3
    assert not any(store.glob("runs/*/*/logs/n*.log"))  # nothing was started


def test_store_that_is_not_writable(store: Path) -> None:
    blocker = store / "file"
    blocker.write_text("not a directory")
    res = chaoskit_cli(store, "run", "--store", str(blocker / "runs"), "--time-limit", "5")
    assert res.code == 2
    assert "cannot write the run store" in res.stderr
    assert "Traceback" not in res.stderr


def test_node_that_never_starts_leaves_nothing(store: Path, tmp_path: Path) -> None:
    spec = tmp_path / "broken.toml"
    spec.write_text(
        'name = "broken"\n[launch]\nargv = ["python3", "-c", "import sys; sys.exit(3)"]\n'
        '[status]\nhttp = "GET /status"\nrole = "role"\n'
    )
    res = chaoskit_cli(store, "run", "--target", str(spec), "--time-limit", "5", "--nodes", "3")
    assert res.code == 2
    assert "exited at start-up" in res.stderr
    assert "Traceback" not in res.stderr
    (config,) = store.glob("runs/broken-*/*/config.json")
    run_id = json.loads(config.read_text())["run_id"]
    assert find_leftovers(run_id) == {}  # (other runs of the machine may be going on)


def test_help_on_every_command(store: Path) -> None:
    for cmd in [
        "run",
        "list",
        "check",
        "check-history",
        "proxy",
        "report",
        "serve",
        "nightly",
        "cleanup",
    ]:
        res = chaoskit_cli(store, cmd, "--help")
        assert res.code == 0, (cmd, res.stderr)
        assert "Usage:" in res.stdout
