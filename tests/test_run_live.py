"""The run's side of the live checks, and what a run says about itself: each anomaly
shown once, --fail-fast's stop, results.json, the summary, the live display, the exit
status, the sampling warning and timings.json. Pure: real stream writers on files."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rich.console import Console

from chaoskit.checkers.stats import sampling_warnings
from chaoskit.cli.summary import print_summary, warnings_of
from chaoskit.run.live import MAX_SHOWN, LiveWatch, line
from chaoskit.run.progress import Progress, Snapshot, render
from chaoskit.run.result import RunResult
from chaoskit.run.settings import config_from_cli, config_from_mapping, repeat_command
from chaoskit.run.timings import Timings, process_age
from chaoskit.store.streams import JsonlWriter, RunClock

MS = 1_000_000
CONFIG = {"nodes": ["n1", "n2", "n3"], "policy": "per-term", "election_deadline": 1.0}


class Shown(Progress):
    """A display that keeps the lines it is asked to show."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.lines: list[str] = []

    def anomaly(self, message: str) -> None:
        self.lines.append(message)

    def warn(self, message: str) -> None:
        self.lines.append("warning: " + message)


def writers(tmp_path: Path) -> tuple[JsonlWriter, JsonlWriter, JsonlWriter]:
    return tuple(JsonlWriter(tmp_path / n) for n in ("obs", "nemesis", "history"))  # type: ignore[return-value]


def two_leaders(observations: JsonlWriter, t_ms: int, term: int) -> None:
    for i, node in enumerate(("n1", "n2")):
        observations.write(
            {
                "time": (t_ms + i) * MS,
                "node": node,
                "role": "leader",
                "term": term,
                "leader": node,
                "latency": MS,
            }
        )


def test_each_live_anomaly_is_shown_and_handed_on_once(tmp_path: Path) -> None:
    shown, heard = Shown(), []
    watch = LiveWatch(["split-brain"], clock=RunClock(), progress=shown, on_anomaly=heard.append)
    streams = writers(tmp_path)
    watch.start(CONFIG, streams)
    for t in range(0, 200, 20):
        two_leaders(streams[0], t, term=2)
    assert len(heard) == 1 and heard[0]["kind"] == "split-brain"
    assert shown.lines == [line(heard[0])]
    assert shown.lines[0].startswith("found live at 0.02 s: split-brain: n1 (term 2) and n2")
    assert not watch.stop.is_set() and watch.stopped_early is None  # not failing fast
    results: dict[str, Any] = {"checkers": {}}
    watch.add_to(results)
    assert results["live"]["anomalies"] == heard
    assert results["live"]["unconfirmed"] == heard  # the offline results hold nothing
    assert "not confirmed" in shown.lines[-1]


def test_fail_fast_stops_at_the_first_anomaly(tmp_path: Path) -> None:
    clock = RunClock()
    watch = LiveWatch(["split-brain"], clock=clock, progress=Shown(), fail_fast=True)
    streams = writers(tmp_path)
    watch.start(CONFIG, streams)
    two_leaders(streams[0], 0, term=2)
    two_leaders(streams[0], 20, term=2)
    assert watch.stop.is_set()
    assert watch.stopped_early is not None
    assert watch.stopped_early["anomaly"] is watch.anomalies[0]
    results: dict[str, Any] = {"checkers": {}}
    watch.add_to(results)
    assert results["stopped_early"] == watch.stopped_early


def test_a_flood_of_anomalies_is_counted_not_printed(tmp_path: Path) -> None:
    shown = Shown()
    watch = LiveWatch(["split-brain"], clock=RunClock(), progress=shown)
    streams = writers(tmp_path)
    watch.start(CONFIG, streams)
    for term in range(1, 3 * MAX_SHOWN):  # a new same-term episode every 2 s
        two_leaders(streams[0], term * 2000, term)
        two_leaders(streams[0], term * 2000 + 20, term)
    assert len(watch.anomalies) > MAX_SHOWN + 1
    assert len(shown.lines) == MAX_SHOWN + 1 and "all are in results.json" in shown.lines[-1]


def test_exit_status_of_a_run_stopped_early() -> None:
    stopped = {"at": 3 * 10**9, "anomaly": {"kind": "split-brain"}}
    invalid = RunResult(Path("r"), {"valid": False, "stopped_early": stopped})
    assert invalid.exit_code == 1 and invalid.stopped_early == stopped
    assert "stopped early at 3.00 s (--fail-fast): split-brain found live" in invalid.describe()
    # An early stop the final check does not confirm gives no verdict.
    assert RunResult(Path("r"), {"valid": True, "stopped_early": stopped}).exit_code == 2
    assert RunResult(Path("r"), {"valid": True}).exit_code == 0


def test_the_summary_says_it_stopped_early_and_warns() -> None:
    console = Console(record=True, width=200)
    stats = {"valid": True, "anomalies": [], "metrics": {"warnings": ["the observer [slipped]"]}}
    results = {
        "valid": False,
        "checkers": {"stats": stats},
        "stopped_early": {"at": 2_500_000_000, "anomaly": {"kind": "split-brain"}},
    }
    print_summary(console, Path("runs/x"), results)
    text = console.export_text()
    assert "stopped early at 2.50 s (--fail-fast): split-brain found live" in text
    assert "warning: the observer [slipped]" in text
    assert warnings_of(results) == ["the observer [slipped]"]


def test_the_sampling_warning_is_against_the_runs_interval() -> None:
    config = {"nodes": ["n1"] * 9, "observe_interval_ms": 20}
    assert sampling_warnings({"p99": 25.0}, config) == []
    [warning] = sampling_warnings({"p99": 81.0}, config)
    assert "20 ms sampling interval: p99 81 ms (goal 25 ms, 9 nodes)" in warning
    assert sampling_warnings({"p99": 81.0}, {"observe_interval_ms": 100}) == []
    assert sampling_warnings({"p99": None}, config) == []


def test_the_live_display_shows_anomalies_and_a_slipping_interval() -> None:
    snap = Snapshot(
        title="raft / partition",
        seed=1,
        elapsed_s=3.0,
        remaining_s=57.0,
        leader="n1",
        anomalies=2,
        last_anomaly="split-brain n1 n2",
        sampling_p99_ms=81.0,
        sampling_goal_ms=25.0,
    )
    console = Console(record=True, width=120)
    console.print(render(snap))
    text = console.export_text()
    assert "anomalies  2" in text and "split-brain n1 n2" in text
    assert "p99 81 ms (goal 25 ms)" in text


def test_timings_add_up_steps_and_keep_first_marks() -> None:
    timings = Timings()
    for _ in range(2):
        with timings.step("launch.ready"):
            time.sleep(0.01)
    timings.mark("main_start")
    timings.mark("main_start")  # the first one counts
    timings.mark("main_end")
    timings.mark("done")
    out = timings.to_json()
    assert out["steps"]["launch.ready"] >= 0.02
    assert out["setup_s"] == out["marks"]["main_start"] <= out["marks"]["main_end"]
    assert out["teardown_s"] >= 0
    assert out["marks"]["process_start"] < 0
    age = process_age()
    assert age is not None and age > 0


def test_fail_fast_is_a_run_setting() -> None:
    config = config_from_cli({"fail_fast": True})
    assert config.fail_fast is True and "--fail-fast" in repeat_command(config)
    assert config_from_mapping({"fail_fast": True}, where="t").fail_fast is True
    assert "--fail-fast" not in repeat_command(config_from_cli({}))
