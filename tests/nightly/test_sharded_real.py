"""A real night as 3 shards in 3 processes, merged, against the same night on one machine.

Real clusters (reference Raft and Bully nodes as local processes, faults through the
fault proxy), real processes for the shards (each `chaoskit nightly --shard auto`
with another engine's variables and its own store), the merge through the CLI. Runs
are seeded, but a real cluster's timing still varies, so the cells are chosen for
stable verdicts (Raft keeps one leader under partitions and kills; Bully under a
partition elects a second leader) and what is compared is what is deterministic:
the cells, their statuses, each seed's verdict, the kinds of anomaly, zero anomalies
where valid. The shards run one after the other: two clusters at once on a small
machine would disturb each other's timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chaoskit.runtimes.local import find_leftovers

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MATRIX = """
[matrix]
targets = ["raft", "bully"]
nemeses = ["partition", "kill"]
workloads = ["none"]
seeds = [1, 2]
time_limit = 4
nodes = 3

[[exclude]]            # a bully leader killed: its verdict depends on timing
target = "bully"
nemesis = "kill"
"""
#: One shard per engine's way of saying which shard a job is (`--shard auto`).
ENGINES = [
    {"CHAOSKIT_SHARD": "1/3"},  # GitHub Actions, from strategy.matrix
    {"CI_NODE_INDEX": "2", "CI_NODE_TOTAL": "3"},  # GitLab parallel
    {"JOB_COMPLETION_INDEX": "2", "CHAOSKIT_SHARD_COUNT": "3"},  # Kubernetes Indexed Job
]
CLEARED = (
    "CHAOSKIT_SHARD",
    "CHAOSKIT_SHARD_COUNT",
    "CHAOSKIT_NIGHT",
    "CI_NODE_INDEX",
    "CI_NODE_TOTAL",
    "JOB_COMPLETION_INDEX",
    "SLURM_ARRAY_TASK_ID",
    "GITHUB_RUN_ID",
    "CI_PIPELINE_ID",
    "SLURM_ARRAY_JOB_ID",
)


def chaoskit(
    cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    full = {**base, "PYTHONPATH": str(REPO), "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "chaoskit", *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
    )


def night_of(store: Path) -> tuple[dict[str, Any], str]:
    (path,) = (store / "nightly").glob("*/summary.json")
    return json.loads(path.read_text()), (path.parent / "report.html").read_text()


def deterministic(summary: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Per cell: key, status, each seed's verdict, the anomaly kinds, anomalies or not."""
    return [
        (
            c["key"],
            c["status"],
            [(r["seed"], r["verdict"]) for r in c["runs"]],
            sorted(c["anomaly_kinds"]),
            c["anomalies"] > 0,
        )
        for c in summary["cells"]
    ]


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("sharded")
    (work / "matrix.toml").write_text(MATRIX)
    single = chaoskit(work, "nightly", "matrix.toml", "--store", "single", "--night", "real-1")
    shards = [
        chaoskit(
            work,
            "nightly",
            "matrix.toml",
            "--shard",
            "auto",
            "--store",
            f"shard-{i}",
            env={**engine, "CHAOSKIT_NIGHT": "real-1"},
        )
        for i, engine in enumerate(ENGINES, start=1)
    ]
    return {"work": work, "single": single, "shards": shards}


def test_the_merged_shards_are_the_single_machine_night(nights: dict[str, Any]) -> None:
    work = nights["work"]
    single = nights["single"]
    assert single.returncode == 1, single.stderr  # bully under a partition fails
    for i, shard in enumerate(nights["shards"], start=1):
        # A shard that did its part exits 0, whatever its runs found.
        assert shard.returncode == 0, shard.stderr
        assert f"shard {i}/3 of night real-1" in shard.stdout
        assert list((work / f"shard-{i}").glob(f"nightly-shards/real-1/*/shard-{i}-of-3.json"))
    merge = chaoskit(work, "nightly", "merge", "shard-1", "shard-2", "shard-3", "--store", "merged")
    assert merge.returncode == single.returncode, merge.stdout + merge.stderr
    merged, page = night_of(work / "merged")
    alone, _ = night_of(work / "single")
    assert deterministic(merged) == deterministic(alone)
    assert [c["status"] for c in merged["cells"]] == ["pass", "pass", "fail"]
    assert merged["cells"][2]["anomaly_kinds"].keys() == {"split-brain"}
    assert sum(len(c["runs"]) for c in merged["cells"]) == 6
    for key in ("night", "matrix_digest", "status", "exit_status"):
        assert merged[key] == alone[key], key
    assert [s["status"] for s in merged["shards"]] == ["done"] * 3
    assert sum(s["runs"] for s in merged["shards"]) == 6
    for cell in merged["cells"]:
        for run in cell["runs"]:
            results = json.loads((work / "merged" / run["run_dir"] / "results.json").read_text())
            assert results["valid"] == run["verdict"]
            assert f"../../{run['run_dir']}/report.html" in page


def test_a_missing_shard_is_reported_not_passed(nights: dict[str, Any]) -> None:
    work = nights["work"]
    merge = chaoskit(work, "nightly", "merge", "shard-1", "shard-3", "--store", "partial")
    assert merge.returncode == 1, merge.stdout + merge.stderr
    assert "shard 2/3: missing" in merge.stdout
    summary, page = night_of(work / "partial")
    assert summary["status"] == "fail"
    assert [s["status"] for s in summary["shards"]] == ["done", "missing", "done"]
    notes = [r["error"] for c in summary["cells"] for r in c["runs"] if r["verdict"] == "missing"]
    assert notes and set(notes) == {"shard 2/3 never reported"}
    assert len(notes) == summary["shards"][1]["assigned"]
    assert "shard 2/3 missing" in page


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["nightly", "m.toml", "--shard", "auto"], {}, "--shard auto: no shard index"),
        (["nightly", "m.toml", "--shard", "4/3"], {}, "shard 4 of 3 does not exist"),
        (["nightly", "m.toml", "--shard", "1/2", "--night", "a b"], {}, "--night 'a b'"),
        (["nightly", "merge", "nowhere"], {}, "no such folder: nowhere"),
        (["nightly", "merge", "."], {}, "holds no nightly shard"),
    ],
)
def test_bad_shard_input_is_one_line_and_exit_2(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    (tmp_path / "m.toml").write_text(MATRIX)
    res = chaoskit(tmp_path, *args, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not list(tmp_path.glob("runs/*"))  # nothing ran


def test_ctrl_c_stops_the_shard_which_says_so_and_leaves_nothing(tmp_path: Path) -> None:
    """A shard's Ctrl-C (a cancelled CI job) stops the shard, not just its current run:
    the run is healed and stored, the shard summary says ``interrupted``."""
    (tmp_path / "m.toml").write_text(MATRIX.replace("time_limit = 4", "time_limit = 30"))
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaoskit", "nightly", "m.toml", "--shard", "1/2"],
        cwd=tmp_path,
        env={**base, "PYTHONPATH": str(REPO), "CHAOSKIT_NIGHT": "cut"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait until a run has launched its nodes (its config names their addresses).
        deadline = time.monotonic() + 120
        config: dict[str, Any] = {}
        while time.monotonic() < deadline and not config.get("node_addresses"):
            found = list(tmp_path.glob("runs/*-*/*/config.json"))
            config = json.loads(found[0].read_text() or "{}") if found else {}
            time.sleep(0.2)
        assert config.get("node_addresses"), "no run started"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2 and "Traceback" not in stderr
    (path,) = tmp_path.glob("runs/nightly-shards/cut/*/shard-1-of-2.json")
    shard = json.loads(path.read_text())
    assert shard["status"] == "interrupted" and shard["finished_at"]
    assert len(list(tmp_path.glob("runs/*-*/*/config.json"))) == 1  # no run after it
    assert find_leftovers(config["run_id"]) == {}
