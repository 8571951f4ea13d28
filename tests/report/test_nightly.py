"""chaoskit nightly: runs a matrix through run_one, writes the report, returns the status."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chaoskit.errors import ConfigError, SetupError
from chaoskit.nightly.night import load_matrix, run_nightly
from tests.support.synthetic import SyntheticSpec, write_synthetic_run

MATRIX = """
[matrix]
targets = ["raft", "bully"]
nemeses = ["partition", "kill"]
workloads = ["register"]
seeds = [1, 2]
time_limit = 5

[[exclude]]
target = "bully"
nemesis = "partition"
"""
NIGHT1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def fake_runner(
    store: Path, night: datetime, broken: set[tuple[str, str]], slow: float = 1.0
) -> Callable[[dict[str, Any]], Path]:
    """A run_one that writes a synthetic run; cells in ``broken`` show a stalled election."""
    calls: list[dict[str, Any]] = []

    def run_one(cell: dict[str, Any]) -> Path:
        calls.append(cell)
        spec = SyntheticSpec(
            seed=cell["seed"],
            target=cell["target"],
            nemeses=(cell["nemesis"].split(":")[0],),
            duration_s=12,
            ops=100,
            election_deadline_s=2.0 * slow,
            stalled=(cell["target"], cell["nemesis"]) in broken,
            started_at=night + timedelta(seconds=len(calls)),
        )
        return write_synthetic_run(store, spec)

    run_one.calls = calls  # type: ignore[attr-defined]
    return run_one


def night(
    tmp_path: Path, store: Path, when: datetime, broken: set[tuple[str, str]], slow: float = 1.0
) -> tuple[int, dict[str, Any], str]:
    matrix = tmp_path / "matrix.toml"
    matrix.write_text(MATRIX)
    out = io.StringIO()
    status = run_nightly(
        matrix,
        store,
        fake_runner(store, when, broken, slow),
        console=Console(file=out, width=140),
        now=when,
    )
    night_dir = store / "nightly" / when.strftime("%Y%m%dT%H%M%S.%fZ")
    return status, json.loads((night_dir / "summary.json").read_text()), out.getvalue()


def test_matrix_cells_and_excludes(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(MATRIX)
    matrix = load_matrix(path)
    assert matrix.cells() == [
        ("raft", "partition", "register"),
        ("raft", "kill", "register"),
        ("bully", "kill", "register"),
    ]
    assert matrix.seeds == [1, 2] and matrix.time_limit == 5


def test_the_shipped_example_matrix_parses() -> None:
    matrix = load_matrix(Path(__file__).parents[2] / "examples" / "nightly.toml")
    assert ("bully", "kill", "register") not in matrix.cells()
    assert ("paxos", "kill", "register") not in matrix.cells()
    assert ("zookeeper", "kill", "register") in matrix.cells()
    assert len(matrix.cells()) == 32  # 5 targets x 4 nemeses x 2 workloads - 8 excluded


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[matrix\n", "not valid TOML"),
        ("x = 1", "no \\[matrix\\]"),
        ("[matrix]\ntargets=['raft']\nnemeses=['kill']\nseeds=[1]", "needs time_limit"),
        ("[matrix]\ntargets=[]\nnemeses=['kill']\nseeds=[1]\ntime_limit=3", "non-empty"),
        ("[matrix]\ntargets=['a']\nnemeses=['kill']\nseeds=['x']\ntime_limit=3", "bad value"),
    ],
)
def test_bad_matrices_are_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_matrix(path)


def test_missing_matrix_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such matrix file"):
        load_matrix(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="is a directory, not a file"):
        load_matrix(tmp_path)


@pytest.mark.slow
def test_all_cells_pass(tmp_path: Path, store: Path) -> None:
    status, summary, out = night(tmp_path, store, NIGHT1, broken=set())
    assert status == 0 and summary["status"] == "pass"
    assert [c["status"] for c in summary["cells"]] == ["pass"] * 3
    assert all(len(c["runs"]) == 2 for c in summary["cells"])
    assert summary["cells"][0]["failover_ms"]["count"] == 2  # 2 seeds x 1 fault in 12 s
    assert "nightly matrix" in out and "raft / kill / register" in out
    run = store / summary["cells"][0]["runs"][0]["run_dir"]
    assert (run / "report.html").is_file() and (run / "junit.xml").is_file()
    page = (store / "nightly" / NIGHT1.strftime("%Y%m%dT%H%M%S.%fZ") / "report.html").read_text()
    assert "First night" in page and 'id="verdict">pass<' in page
    assert f'href="../../{summary["cells"][0]["runs"][0]["run_dir"]}/report.html"' in page


@pytest.mark.slow
def test_cell_config_passed_to_run_one(tmp_path: Path, store: Path) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_text(MATRIX + "\n[options]\ntick-ms = 5\n")
    runner = fake_runner(store, NIGHT1, set())
    run_nightly(matrix, store, runner, console=Console(file=io.StringIO()), now=NIGHT1)
    assert runner.calls[0] == {
        "target": "raft",
        "nemesis": "partition",  # type: ignore[attr-defined]
        "workload": "register",
        "seed": 1,
        "time_limit": 5.0,
        "options": {"tick-ms": "5"},
        "store": str(store),
    }
    assert len(runner.calls) == 6  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_failing_cell_exits_1(tmp_path: Path, store: Path) -> None:
    status, summary, _ = night(tmp_path, store, NIGHT1, broken={("raft", "kill")})
    assert status == 1 and summary["exit_status"] == 1
    cells = {c["key"]: c for c in summary["cells"]}
    assert cells["raft / kill / register"]["status"] == "fail"
    assert cells["raft / kill / register"]["anomaly_kinds"] == {"stalled-election": 2}
    assert cells["raft / partition / register"]["status"] == "pass"


@pytest.mark.slow
def test_a_run_that_cannot_be_carried_out_is_an_error_cell(tmp_path: Path, store: Path) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_text(MATRIX)

    def run_one(cell: dict[str, Any]) -> Path:
        if cell["target"] == "bully":
            raise SetupError("node n1 never started")
        return write_synthetic_run(store, SyntheticSpec(seed=cell["seed"], duration_s=10, ops=50))

    status = run_nightly(matrix, store, run_one, console=Console(file=io.StringIO()), now=NIGHT1)
    summary = json.loads(next((store / "nightly").glob("*/summary.json")).read_text())
    bully = summary["cells"][2]
    assert status == 1 and bully["status"] == "error"
    assert bully["runs"][0]["error"] == "node n1 never started"


@pytest.mark.slow
def test_second_night_reports_changes_and_trends(tmp_path: Path, store: Path) -> None:
    night(tmp_path, store, NIGHT1, broken={("raft", "kill")})
    night2 = NIGHT1 + timedelta(days=1)
    status, _, _ = night(tmp_path, store, night2, broken={("raft", "partition")}, slow=3)
    assert status == 1
    page = (store / "nightly" / night2.strftime("%Y%m%dT%H%M%S.%fZ") / "report.html").read_text()
    new_failures = page.split('id="new-failures">')[1].split("</ul>")[0]
    fixed = page.split('id="fixed">')[1].split("</ul>")[0]
    assert "raft / partition / register" in new_failures and "kill" not in new_failures
    assert "raft / kill / register" in fixed
    regressions = page.split('id="regressions"')[1].split("</table>")[0]
    assert "bully / kill / register" in regressions
    for metric in ("cells", "anomalies", "failover-p50", "failover-p99"):
        assert f'data-chart="trend-{metric}"' in page
    assert "2 nights, oldest first" in page
