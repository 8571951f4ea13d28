"""``benchmarks/shrink.py`` without running a cluster: its table and its correct-Raft
scenario (the shrunk file without the bug)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from chaoskit.scenario.files import load_scenario

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "shrink.py"


def bench() -> ModuleType:
    name = "chaoskit_shrink_bench"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, BENCH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_every_planted_bug_is_benchmarked() -> None:
    args = bench().parse_args([])
    assert set(args.bugs.split(",")) == set(bench().detection().PAIRINGS)
    assert args.budget <= 50 and args.confirm < args.budget


def test_the_table_has_a_row_per_bug_with_its_figures() -> None:
    b = bench()
    rows = [
        b.Row("stale-read", kind="linearizable:non-linearizable", events_before=4,
              events_after=1, faults="isolate-leader@6.1s", reruns=23, shrink_wall_s=600.0,
              replays=[True, True, True, False, True], correct=[0, 1],
              correct_kinds=[[], ["stalled-election:stalled-election"]]),
        b.Row("lease-read", error="no failing run in 3 seeds"),
    ]  # fmt: skip
    text = b.markdown(rows, b.parse_args([]))
    assert "| `stale-read` | `linearizable:non-linearizable` | 4 -> 1 |" in text
    assert "| 4/5 | 23 | 10.0 min |" in text
    assert "1/2 valid, the bug's anomaly 0/2 (other: stalled-election:stalled-election)" in text
    assert "| `lease-read` | | | no failing run in 3 seeds |" in text


def test_the_correct_raft_runs_the_shrunk_faults_without_the_bug(tmp_path: Path) -> None:
    shrunk = tmp_path / "shrunk.toml"
    shrunk.write_text(
        '[run]\ntarget = "raft"\nseed = 3\noptions = { bug = "double-vote", '
        '"election-ticks" = "6" }\n\n[[step]]\nnemesis = "kill"\nat = 2\nduration = 3\n'
    )
    correct = load_scenario(bench().without_bug(shrunk))
    assert correct.run["options"] == {"election-ticks": "6"} and correct.run["seed"] == 3
    assert correct.steps == load_scenario(shrunk).steps
