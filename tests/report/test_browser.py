"""Reports opened in headless Chromium: charts rendered, no console errors, a screenshot.

Screenshots are kept under each run directory (``screenshots/``) as CI artifacts; set
``CHAOSKIT_ARTIFACTS`` to a directory to write the synthetic store there instead of a
temporary one.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from chaoskit.nightly.night import run_nightly
from chaoskit.report import write_run_report
from tests.support.browser import CHROMIUM, check_page
from tests.support.synthetic import SyntheticSpec, write_synthetic_run

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    base = os.environ.get("CHAOSKIT_ARTIFACTS")
    return Path(base) / "report-browser" if base else tmp_path / "store"


def test_chromium_is_installed() -> None:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (apt-get install chromium)"


def test_run_report_renders_in_chromium(artifacts: Path) -> None:
    run = write_synthetic_run(
        artifacts,
        SyntheticSpec(seed=3, split_brain=True, stalled=True, nemeses=("partition", "kill")),
    )
    report = write_run_report(run)
    shot = run / "screenshots" / "report.png"
    check = check_page(report.as_uri(), screenshot=shot)
    assert check.console_errors == []
    assert check.requests == [report.as_uri()]  # nothing loaded from anywhere else
    assert {c["name"] for c in check.charts} == {"timeline", "latency", "failover"}
    for chart in check.charts:
        assert chart["width"] > 600 and chart["height"] > 150 and chart["shapes"] > 20
    assert "split-brain" in check.text and "stalled-election" in check.text
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"


def test_nightly_report_renders_in_chromium(artifacts: Path, tmp_path: Path) -> None:
    matrix = tmp_path / "m.toml"
    matrix.write_text(
        '[matrix]\ntargets=["raft"]\nnemeses=["partition","kill"]\nseeds=[1]\ntime_limit=10\n'
    )

    def run_one(cell: dict[str, Any]) -> Path:
        spec = SyntheticSpec(
            seed=cell["seed"],
            nemeses=(cell["nemesis"],),
            duration_s=12,
            ops=100,
            started_at=datetime.now(UTC),
        )
        return write_synthetic_run(artifacts, spec)

    for _ in range(2):
        run_nightly(matrix, artifacts, run_one, console=Console(file=io.StringIO()))
    report = sorted((artifacts / "nightly").glob("*/report.html"))[-1]
    check = check_page(report.as_uri(), screenshot=report.parent / "screenshots" / "nightly.png")
    assert check.console_errors == []
    assert {c["name"] for c in check.charts} >= {"trend-cells", "trend-failover-p50"}
    assert all(c["width"] > 600 and c["shapes"] > 5 for c in check.charts)
    assert "What changed since the previous night" in check.text


def test_console_errors_are_really_caught(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><script>console.error("boom"); undefinedCall();</script>'
        '<img src="missing.png"></body></html>'
    )
    check = check_page(page.as_uri())
    assert any("boom" in e for e in check.console_errors)
    assert any("undefinedCall" in e or "Uncaught" in e for e in check.console_errors)
    assert len(check.console_errors) >= 3  # the missing image is logged too
