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
