"""Live checks in real runs: anomalies shown as they are found, ``--fail-fast``, and the
final offline check agreeing with what was reported live."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.checkers.live import replay, unconfirmed
from chaoskit.runtimes.local import find_leftovers
from chaoskit.store.rundir import load_run

from .conftest import CliRun, chaoskit_cli

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TIME_LIMIT = 60


@pytest.fixture(scope="module")
def stopped(tmp_path_factory: pytest.TempPathFactory) -> CliRun:
    """Bully under partitions with --fail-fast: a split brain within the first faults."""
    return chaoskit_cli(
        tmp_path_factory.mktemp("live"),
        *("run", "--target", "bully", "--nemesis", "partition", "--fail-fast"),
        *("--time-limit", str(TIME_LIMIT), "--heal-seconds", "2", "--fault-seconds", "4"),
        *("--seed", "5", "--no-progress"),
    )


def test_fail_fast_ends_the_run_at_the_first_live_anomaly(stopped: CliRun) -> None:
    assert stopped.code == 1, stopped.stdout + stopped.stderr
    results = stopped.results()
    first = results["live"]["anomalies"][0]
    assert results["stopped_early"]["anomaly"] == first
    assert first["kind"] == "split-brain" and len(first["nodes"]) >= 2
    assert first["found_at"] <= results["stopped_early"]["at"] < TIME_LIMIT * 1e9
    timings = json.loads((stopped.run_dir / "timings.json").read_text())
    assert timings["marks"]["main_end"] < TIME_LIMIT  # it did not run to its limit
    # Stopped, then healed, final phase, everything stored and checked.
    faults = stopped.records("nemesis.jsonl")
    starts = {r["id"] for r in faults if r["type"] == "start"}
    assert starts == {r["id"] for r in faults if r["type"] == "stop"}
    report = (stopped.run_dir / "report.html").read_text()
    assert "STOPPED EARLY at" in report and "(--fail-fast): split-brain" in report
    run_id = json.loads((stopped.run_dir / "config.json").read_text())["run_id"]
    assert find_leftovers(run_id) == {}


def test_each_anomaly_is_one_line_the_moment_it_is_found(stopped: CliRun) -> None:
    lines = [line for line in stopped.stderr.splitlines() if "anomaly found live at" in line]
    assert lines and "split-brain" in lines[0]
    assert "stopped early at" in stopped.stdout and "(--fail-fast)" in stopped.stdout


def test_the_final_check_confirms_every_live_anomaly(stopped: CliRun) -> None:
    results = stopped.results()
    live = results["live"]["anomalies"]
    assert results["live"]["unconfirmed"] == [] == unconfirmed(live, results)
    offline = results["checkers"]["split-brain"]["anomalies"]
    first = live[0]
    # The episode the live check saw begin is the offline one (which may draw in more
    # nodes as it goes on).
    assert any(
        a["start"] == first["start"] and set(first["nodes"]) <= set(a["nodes"]) for a in offline
    )


def test_replaying_the_stored_streams_finds_what_was_found_live(stopped: CliRun) -> None:
    """The live checks are a function of the records: fed the stored run in time order,
    they find the very anomalies the run reported as it went."""
    live = stopped.results()["live"]["anomalies"]
    again = replay(load_run(stopped.run_dir))

    def key(a: dict[str, object]) -> tuple[object, ...]:
        return (a["kind"], a["nodes"], a["start"], a["found_at"])

    assert [key(a) for a in again] == [key(a) for a in live]


def test_lost_writes_are_reported_at_the_final_read(tmp_path: Path) -> None:
    res = chaoskit_cli(
        tmp_path,
        *("run", "-o", "bug=early-ack", "--nemesis", "isolate-leader", "--workload", "set"),
        *("--time-limit", "15", "--seed", "1", "--no-progress"),
    )
    assert res.code == 1, res.stdout + res.stderr
    results = res.results()
    lost = [a for a in results["live"]["anomalies"] if a["kind"] == "lost-write"]
    assert lost and results["live"]["unconfirmed"] == []
    final_read = [r for r in res.records("history.jsonl") if r["f"] == "read-set"][-1]
    assert {a["found_at"] for a in lost} == {final_read["time"]}
    end = json.loads((res.run_dir / "config.json").read_text())["end_time"]
    assert final_read["time"] < end  # reported before the teardown and the checks
    assert "anomaly found live at" in res.stderr and "lost-write" in res.stderr
