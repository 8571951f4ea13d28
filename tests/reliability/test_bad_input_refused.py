"""Issue 26, the bad input: each case one clear line and exit status 2 (or a bound),
through the real command line (in-process: tests/support/cli.py), before anything
starts. At the end, what needs real runs: a planted registry entry, a SIGKILLed run's
/dev/shm, a fault applied by hand to a running cluster."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from chaoskit.runtimes import registry
from chaoskit.runtimes.registry import ActiveRun
from tests.support.cli import CliResult, chaoskit
from tests.support.eventually import eventually
from tests.support.synthetic import SyntheticSpec, write_synthetic_run

from .conftest import Session, open_faults

#: The real command line on real files, FIFOs and /proc (and Docker, for cleanup).
pytestmark = pytest.mark.integration


@pytest.fixture
def state(tmp_path: Path) -> dict[str, str]:
    """A state dir of the test's own: no other run's leftovers in its registry."""
    return {"CHAOSKIT_STATE_DIR": str(tmp_path / "state")}


def refused(res: CliResult, message: str) -> None:
    """Exit 2, the message on stderr, one line (plus at most a warning), no traceback."""
    assert res.code == 2, (res.out, res.err)
    assert message in " ".join(res.err.split()), res.err
    assert "Traceback" not in res.text and "internal error" not in res.text
    assert len(res.error_lines()) <= 2, res.err


# -- chaoskit run ------------------------------------------------------------------------

RUN_REFUSED = [
    (["--time-limit", "inf"], "--time-limit must be a finite number, not 'inf'"),
    (["--time-limit", "nan"], "--time-limit must be a finite number"),
    (["--time-limit", "1e308"], "--time-limit must be at most 86400 s (a day), not 1e+308"),
    (["--election-deadline", "1e300"], "--election-deadline must be at most 86400 s"),
    (["--nemesis", ""], "--nemesis names no nemesis ('')"),
    (["--nemesis", ","], "--nemesis names no nemesis (',')"),
    (["--nemesis", "kill:count=999"], "nemesis 'kill': count=999 is more than the 5 node(s)"),
    (["--nemesis", "pause:count=4", "--nodes", "3"], "count=4 is more than the 3 node(s)"),
    (["--nemesis", "partition&clock-rate:count=7", "--nodes", "5"], "count=7 is more than"),
    (["--nemesis", "clock-bump:max_offset_s=1e30"], "max_offset_s must be within 6.3072e+08 s"),
    (["--nemesis", "clock-skew-leader:rate=1e-9"], "rate must be between 0.001 and 100"),
    (["--nemesis", "clock-strobe:period_ms=999999999"], "period_ms must be at most 60000"),
    (["--nemesis", "latency:latency_ms=86400000"], "latency_ms must be at most 60000"),
    (["--concurrency", "0"], "the 'register' workload has no client with --concurrency 0"),
    (["--store", ""], "--store needs a non-empty text, not ''"),
    (["--fault-seconds", "0.001"], "--fault-seconds must be at least 0.1 s"),
    (["--heal-seconds", "0.001"], "--heal-seconds must be at least 0.1 s"),
    (
        ["--fault-seconds", "0.1", "--heal-seconds", "0.1", "--time-limit", "3000"],
        "would schedule about 15000 faults; at most 10000 per run",
    ),
    (["--seed", "-1"], "--seed must be a non-negative integer"),
    (["--nodes", "1e3"], "--nodes must be an integer"),
]


@pytest.mark.parametrize(("args", "message"), RUN_REFUSED)
def test_run_refuses_before_anything_starts(
    tmp_path: Path, state: dict[str, str], args: list[str], message: str
) -> None:
    res = chaoskit("run", "--no-progress", *args, cwd=tmp_path, env=state)
    refused(res, message)
    assert not (tmp_path / "runs").exists()  # no run directory, so no cluster either


def test_concurrency_0_is_fine_without_a_workload_or_with_bound_clients() -> None:
    from chaoskit.run.config import RunConfig
    from chaoskit.run.plan import plan_run

    plan = plan_run(RunConfig(concurrency=0, workload="none", nemeses=[]))
    assert plan.concurrency == 0
    plan = plan_run(RunConfig(concurrency=0, bound_clients=2, nemeses=[]))
    assert (plan.concurrency, plan.bound_clients) == (0, 2)


# -- check-history -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_text(""), "h.jsonl: no operations to check"),
        (lambda p: p.write_text("\n \n"), "h.jsonl: no operations to check"),
        (lambda p: p.symlink_to("/dev/zero"), "h.jsonl is a character device, not a file"),
        (lambda p: p.mkdir(), "h.jsonl is a directory, not a file"),
        (lambda p: os.mkfifo(p), "h.jsonl is a FIFO, not a file"),
        (lambda p: None, "no such history file"),
    ],
)
def test_check_history_of_no_history(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "h.jsonl"
    make(path)  # type: ignore[operator]
    refused(chaoskit("check-history", str(path), "--model", "register"), message)


# -- spec files and matrices -------------------------------------------------------------

DEEP_ARRAY = "a = " + "[" * 5000 + "]" * 5000 + "\n"
DEEP_KEY = ".".join(["a"] * 5000) + " = 1\n"
NOT_UTF8 = b'name = "caf\xe9"\n'


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DEEP_ARRAY, "is nested more than 32 levels deep"),
        (DEEP_KEY, "is nested more than 32 levels deep"),
        (NOT_UTF8, "is not UTF-8 text (byte 11: 0xe9)"),
        ('name = "x"\n[launch]\nargv = ["a{"]\n', "malformed template 'a{'"),
        ('name = "x"\n[launch]\nargv = ["{id.x}"]\n', "unknown placeholder {id.x}"),
        ('name = "x"\n[launch]\nargv = ["{id:>99999999}"]\n', "is too wide"),
        ("election_timeout = inf\n", "field 'election_timeout': Input should be a finite number"),
        (
            'name = "x"\n[launch]\nargv = ["x"]\n[ops.read]\nhttp = "GET /k"\n'
            'fail_status = ["x"]\n',
            "field 'fail_status' (item 0): Input should be a valid integer",
        ),
        (
            'name = "x"\n[launch]\nargv = ["x"]\n[status]\npython = "nosuchmodule:f"\n',
            "python 'nosuchmodule:f': cannot import nosuchmodule: ModuleNotFoundError",
        ),
    ],
)
def test_bad_spec_files(
    tmp_path: Path, state: dict[str, str], content: str | bytes, message: str
) -> None:
    spec = tmp_path / "svc.toml"
    if isinstance(content, bytes):
        spec.write_bytes(content)
    elif content.startswith("election_timeout"):
        base = 'name = "x"\n[launch]\nargv = ["x"]\n[status]\nhttp = "GET /s"\nrole = "r"\n'
        spec.write_text(content + base)
    elif "[status]" in content:
        spec.write_text(content)
    else:
        spec.write_text(content + '[status]\nhttp = "GET /s"\nrole = "r"\n')
    res = chaoskit("run", "--target", str(spec), "--no-progress", cwd=tmp_path, env=state)
    refused(res, message)


def test_a_spec_that_is_a_device_or_a_fifo_is_never_read(
    tmp_path: Path, state: dict[str, str]
) -> None:
    (tmp_path / "zero.toml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.toml")
    for name, kind in (("zero.toml", "a character device"), ("fifo.toml", "a FIFO")):
        res = chaoskit("run", "--target", str(tmp_path / name), cwd=tmp_path, env=state)
        refused(res, f"{name} is {kind}, not a file")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (DEEP_ARRAY, "is nested more than 32 levels deep"),
        ("[options]\n" + DEEP_KEY, "is nested more than 32 levels deep"),
        (NOT_UTF8, "is not UTF-8 text"),
        (
            "[matrix]\ntargets=['raft']\nnemeses=['kill']\nseeds=[1]\ntime_limit=1e308\n",
            "--time-limit must be at most 86400 s",
        ),
        ("[matrix]\ntargets=['raft']\nnemeses=['kill']\nseeds=[inf]\ntime_limit=3\n", "bad value"),
        ("[matrix]\ntargets=['raft']\nnemeses=['']\nseeds=[1]\ntime_limit=3\n", "names no nemesis"),
    ],
)
def test_bad_matrix_files(tmp_path: Path, content: str | bytes, message: str) -> None:
    matrix = tmp_path / "m.toml"
    if isinstance(content, bytes):
        matrix.write_bytes(content)
    else:
        matrix.write_text(content)
    res = chaoskit("nightly", str(matrix), "--store", str(tmp_path / "runs"))
    refused(res, message)
    assert not (tmp_path / "runs").exists()


# -- a stored run's config.json ----------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ([1, 2], "config.json is not a JSON object but a list"),
        ("text", "config.json is not a JSON object but a str"),
        ({"checkers": "split-brain"}, "field 'checkers' must be list"),
        ({"checkers": [1]}, "field 'checkers' must be list"),
        ({"nodes": {"n1": 1}}, "field 'nodes' must be list or int"),
        ({"finished": "yes"}, "field 'finished' must be bool"),
        ({"election_deadline": True}, "field 'election_deadline' must be int or float"),
    ],
)
def test_check_of_a_config_json_of_the_wrong_shape(
    tmp_path: Path, config: object, message: str
) -> None:
    run_dir = write_synthetic_run(tmp_path / "runs", SyntheticSpec(seed=2, duration_s=5))
    if isinstance(config, dict):
        config = {**json.loads((run_dir / "config.json").read_text()), **config}
    (run_dir / "config.json").write_text(json.dumps(config))
    for command in ("check", "report"):
        refused(chaoskit(command, str(run_dir)), message)


def test_check_of_a_config_json_nested_5000_deep(tmp_path: Path) -> None:
    run_dir = write_synthetic_run(tmp_path / "runs", SyntheticSpec(seed=2, duration_s=5))
    (run_dir / "config.json").write_text('{"a": ' * 5000 + "1" + "}" * 5000)
    refused(chaoskit("check", str(run_dir)), "is nested more than 32 levels deep")


# -- cleanup -----------------------------------------------------------------------------


@pytest.mark.parametrize("run_id", ["../../x", "a/b", "", ".hidden", "x" * 65, "a b"])
def test_cleanup_run_id_must_be_a_run_id(state: dict[str, str], run_id: str) -> None:
    refused(chaoskit("cleanup", "--run-id", run_id, env=state), "is not a run id")


def test_a_planted_registry_entry_cannot_make_cleanup_touch_other_files(
    tmp_path: Path, state: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSKIT_STATE_DIR", state["CHAOSKIT_STATE_DIR"])
    victim = tmp_path / "someone-else"
    (victim / "clock").mkdir(parents=True)
    precious = victim / "clock" / "n1.faketime"
    precious.write_text("+0 x1\n")
    (victim / "config.json").write_text(json.dumps({"run_id": "theirs", "finished": False}))
    registry.register(
        ActiveRun(
            run_id="planted",
            run_dir=str(victim),
            controller="1:1",  # no such controller: an orphaned run
            clock_dir=str(victim / "clock"),
            proxy_prefix="",
        )
    )
    res = chaoskit("cleanup", "--run-id", "planted", env=state)
    assert res.code == 0, res.err
    assert "which is not that run's directory: its files are left alone" in res.text
    assert precious.exists()
    assert json.loads((victim / "config.json").read_text()) == {
        "run_id": "theirs",
        "finished": False,
    }
    assert registry.read("planted") is None  # named by the user: forgotten
    # A config.json that is a FIFO nobody writes to: read, it would hang cleanup.
    trap = tmp_path / "trap"
    trap.mkdir()
    os.mkfifo(trap / "config.json")
    registry.register(ActiveRun(run_id="fifo", run_dir=str(trap), controller="1:1"))
    res = chaoskit("cleanup", "--run-id", "fifo", env=state)
    assert res.code == 0 and "its files are left alone" in res.text, res.err
    # An entry file whose name is not its run's, or that is not an entry at all, is
    # never read as one.
    active = Path(state["CHAOSKIT_STATE_DIR"]) / "active"
    (active / "other.json").write_text(
        json.dumps({"run_id": "x", "run_dir": str(victim), "controller": "1:1"})
    )
    (active / "list.json").write_text("[1, 2]")
    assert registry.read_all() == []
    assert registry.read("other") is None


def test_cleanup_after_sigkill_removes_libfaketime_shm_and_then_finds_nothing(
    session: Session,
) -> None:
    proc = session.spawn(
        "run",
        "--nodes",
        "3",
        "--time-limit",
        "120",
        "--seed",
        "5",
        "--no-progress",
        "--workload",
        "none",
        "--nemesis",
        "clock-bump",
        "--fault-seconds",
        "60",
        "--heal-seconds",
        "1",
    )
    from chaoskit.runtimes.local import find_leftovers

    def bumped() -> bool:
        assert proc.poll() is None, proc.communicate()
        latest = session.cwd / "runs" / "latest"
        return latest.exists() and bool(open_faults(latest))

    eventually(bumped, "a clock fault to start")
    run_id = session.config()["run_id"]
    pids = set(find_leftovers(run_id))
    assert len(pids) >= 3
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    shm = Path("/dev/shm")
    assert [p for p in pids if (shm / f"faketime_shm_{p}").exists()]  # libfaketime's own

    first = session.cli("cleanup", "--run-id", run_id)
    assert first.returncode == 0, first.stderr
    assert not [p for p in pids if (shm / f"faketime_shm_{p}").exists()], first.stdout
    assert not [p for p in pids if (shm / f"sem.faketime_sem_{p}").exists()]
    assert f"removed {shm}/faketime_shm_" in first.stdout
    second = session.cli("cleanup", "--run-id", run_id)
    assert second.returncode == 0
    assert "nothing left behind" in second.stdout, second.stdout


def test_a_fault_applied_by_hand_is_checked_against_the_cluster_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaoskit.errors import ConfigError
    from chaoskit.run.cluster import ChaosCluster
    from chaoskit.run.config import RunConfig

    monkeypatch.setenv("CHAOSKIT_STATE_DIR", str(tmp_path / "state"))
    cluster = ChaosCluster(
        RunConfig(nodes=3, nemeses=[], workload="none", store=tmp_path / "runs", progress=False)
    )
    try:
        with pytest.raises(ConfigError, match="count=4 is more than the 3 node"):
            cluster.apply("kill:count=4")
        assert not open_faults(cluster.run_dir)  # nothing was started
    finally:
        result = cluster.close()
    assert result is not None and result.valid is not False
