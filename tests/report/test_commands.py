"""The report, serve and nightly commands of the top-level CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chaoskit.cli.main import cli
from tests.support.synthetic import SyntheticSpec, write_synthetic_run


def test_report_regenerates_from_a_store(store: Path, bad_run: Path) -> None:
    result = CliRunner().invoke(cli, ["report", str(store)])
    assert result.exit_code == 0, result.output
    assert (bad_run / "report.html").is_file() and (bad_run / "junit.xml").is_file()


@pytest.mark.slow
def test_nightly_exit_status_follows_the_cells(
    tmp_path: Path, store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_text(
        '[matrix]\ntargets=["raft"]\nnemeses=["partition"]\nseeds=[1]\ntime_limit=5\n'
    )

    def run_one(cell: dict[str, Any]) -> Path:
        spec = SyntheticSpec(seed=cell["seed"], duration_s=10, ops=40, stalled=True)
        return write_synthetic_run(store, spec)

    monkeypatch.setattr("chaoskit.nightly.cells.run_cell", run_one)
    result = CliRunner().invoke(cli, ["nightly", str(matrix), "--store", str(store)])
    assert result.exit_code == 1, result.output
    assert "nightly matrix" in result.output


def test_check_leads_with_the_headline_figures_and_shows_every_metric_on_request(
    bad_run: Path,
) -> None:
    plain = CliRunner().invoke(cli, ["check", str(bad_run)], env={"COLUMNS": "250"})
    assert plain.exit_code in (0, 1), plain.output
    assert "longest overlap" in plain.output and "failover p99" in plain.output
    assert "max_overlap_ms" not in plain.output
    every = CliRunner().invoke(cli, ["check", str(bad_run), "--all-metrics"])
    assert every.exit_code == plain.exit_code, every.output
    assert "split-brain metrics:" in every.output
    assert '"max_overlap_ms"' in every.output and '"sampling_interval_ms"' in every.output
