"""The run store's directory names: safe characters, bounded length, distinct lists apart."""

from __future__ import annotations

from pathlib import Path

from chaoskit.store.rundir import MAX_LABEL, create_run_dir, run_label

EVERY = (
    "partition+partition-bridge+partition-majorities-ring+partition-oneway+isolate+"
    "isolate-leader+kill+kill-leader+pause+pause-leader+latency+clock-bump+clock-rate+"
    "clock-strobe+clock-skew-leader:offset_s=-5;rate=1-with-isolate-leader"
)


def test_short_labels_are_kept_readable() -> None:
    assert run_label("targets/raft.toml", "partition+kill") == "raft-partition+kill"
    assert run_label("raft", "clock-bump:delta_s=2") == "raft-clock-bump_delta_s_2"


def test_long_nemesis_lists_make_a_directory_the_file_system_accepts(tmp_path: Path) -> None:
    label = run_label("raft", EVERY)
    assert len(label) == MAX_LABEL
    assert label.startswith("raft-partition+partition-bridge")
    # Two lists that share their first MAX_LABEL characters stay apart.
    assert run_label("raft", EVERY + "+kill") != label
    run_dir = create_run_dir(tmp_path, "raft", EVERY * 3)
    assert run_dir.is_dir() and len(run_dir.parent.name) == MAX_LABEL
    assert (tmp_path / "latest").resolve() == run_dir.resolve()
