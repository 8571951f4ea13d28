"""report.html: self-contained, with every section the issue asks for."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from chaoskit.report import write_run_report
from tests.support.synthetic import SyntheticSpec, write_synthetic_run


def external_refs(page: str) -> list[str]:
    """Every src/href that would load something from outside the file."""
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    return [r for r in refs if re.match(r"[a-z]+:", r) and not r.startswith("data:")]


def test_report_shows_seed_command_verdicts_anomalies_and_charts(bad_run: Path) -> None:
    page = write_run_report(bad_run).read_text()
    assert (bad_run / "report.html").is_file()
    assert '<code id="seed">3</code>' in page
    assert "chaoskit run --target raft --nodes 5 --time-limit 30 --seed 3" in page
    for chart in ("timeline", "latency", "failover"):
        assert f'data-chart="{chart}"' in page
    assert page.count('class="anomaly-kind"') == 2
    assert "split-brain" in page and "stalled-election" in page
    assert 'id="verdict">invalid<' in page
    assert "p99" in page and "3600 ms" in page  # the planted 3.6 s election
    assert "sampled every\n50 ms" in page or "sampled every 50 ms" in page.replace("\n", " ")


def test_report_is_self_contained(bad_run: Path) -> None:
    page = write_run_report(bad_run).read_text()
    assert "<script" not in page
    assert external_refs(page) == []
    assert 'href="logs/n1.log"' in page


def test_a_run_never_checked_still_renders(store: Path) -> None:
    run = write_synthetic_run(store, SyntheticSpec(seed=9, checked=False))
    page = write_run_report(run).read_text()
    assert "Not checked yet" in page
    assert 'id="verdict">unchecked<' in page


def test_a_crashed_checker_shows_unknown_with_its_error(store: Path) -> None:
    run = write_synthetic_run(store, SyntheticSpec(seed=2, checker_crash=True))
    page = write_run_report(run).read_text()
    assert 'id="verdict">unknown<' in page
    assert "RecursionError: search space exhausted" in page


def test_a_run_cut_short_renders_and_says_so(bad_run: Path) -> None:
    with open(bad_run / "observations.jsonl", "a") as f:
        f.write('{"time": 99, "no')
    (bad_run / "results.json").unlink()
    (bad_run / "nemesis.jsonl").unlink()
    page = write_run_report(bad_run).read_text()
    assert "INCOMPLETE" in page
    assert "No faults were injected" in page


def test_a_run_without_any_stream_renders(store: Path, bad_run: Path) -> None:
    for name in ("history.jsonl", "observations.jsonl", "nemesis.jsonl"):
        (bad_run / name).unlink()
    shutil.rmtree(bad_run / "logs")
    page = write_run_report(bad_run).read_text()
    assert "0 completed ops" in page


@pytest.mark.slow
def test_large_run_stays_under_budget_and_keeps_every_anomaly(store: Path) -> None:
    spec = SyntheticSpec(
        seed=5,
        duration_s=600,
        ops=100_000,
        concurrency=20,
        sample_ms=100,
        fault_s=10,
        heal_s=10,
        split_brain=True,
        stalled=True,
        nemeses=("partition", "kill", "pause"),
    )
    run = write_synthetic_run(store, spec)
    path = write_run_report(run)
    assert path.stat().st_size < 5_000_000
    page = path.read_text()
    assert "100000 completed ops" in page and "drawn" in page
    assert page.count('class="anomaly-kind"') == 2


def test_checker_table_leads_with_headline_figures_and_keeps_every_metric(
    bad_run: Path,
) -> None:
    page = write_run_report(bad_run).read_text()
    start = page.index('id="checker-table"')
    table = page[start : page.index("</table>", start)]
    assert "longest overlap: <b>" in table and "failover p99: <b>" in table
    assert table.count("<details><summary>") == 3  # one per checker
    assert "sampling_interval_ms: " in table  # inside the details, one click away


def test_the_anomaly_table_names_a_fault_healed_just_before(bad_run: Path) -> None:
    results_path = bad_run / "results.json"
    results = json.loads(results_path.read_text())
    anomaly = results["checkers"]["split-brain"]["anomalies"][0]
    anomaly["faults"] = []
    anomaly["after_faults"] = [{"fault": "kill-leader#1", "id": 1, "healed_before_ms": 212.0}]
    results_path.write_text(json.dumps(results))
    page = write_run_report(bad_run).read_text()
    assert "after kill-leader#1 (healed 212 ms before)" in page


def test_the_report_shows_the_shrinking_steps_and_the_replay(bad_run: Path) -> None:
    page = write_run_report(bad_run).read_text()
    assert "Not shrunk: <code>chaoskit shrink RUN_DIR</code>" in page
    shrink = {
        "kind": "split-brain:split-brain",
        "original": {"events": 6},
        "shrunk": {"events": 1, "faults": "isolate-leader@4.2s"},
        "reproduced": 4,
        "confirm_runs": 5,
        "reruns_total": 23,
        "budget": 50,
        "wall_s": 512.0,
        "command": "chaoskit run --scenario runs/x/shrunk.toml",
        "trials": [
            {"index": 1, "change": "keep only isolate-leader@4.2s (the anomaly's faults)",
             "events": 1, "runs": [{"reproduced": True}, {"reproduced": True}],
             "accepted": True},
            {"index": 2, "change": "isolate-leader@4.2s: lasts 2 s", "events": 1,
             "runs": [{"reproduced": True}, {"reproduced": False}], "accepted": False},
        ],
    }  # fmt: skip
    (bad_run / "shrink.json").write_text(json.dumps(shrink))
    (bad_run / "replay.json").write_text(
        json.dumps({"times": 10, "reproduced": 9, "kind": "split-brain:split-brain"})
    )
    page = write_run_report(bad_run).read_text()
    assert 'id="shrink-steps"' in page and page.count("<td>kept</td>") == 1
    assert "6 -&gt; 1" in page and "4/5" in page and "23 of a budget of 50" in page
    assert "chaoskit run --scenario runs/x/shrunk.toml" in page
    assert "the anomaly&#x27;s faults" in page and "<td>++</td>" in page and "<td>+-</td>" in page
    assert 'id="replay"' in page and "9 (split-brain:split-brain)" in page
    assert 'href="shrink.json"' in page
