"""JSONL streams: flushed as written, a torn last line tolerated, corruption refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.store.streams import JsonlWriter, RunClock, read_jsonl


def test_written_lines_are_readable_before_close(tmp_path: Path) -> None:
    w = JsonlWriter(tmp_path / "h.jsonl")
    w.write({"time": 1, "type": "invoke"})
    w.write({"time": 2, "type": "ok"})
    # not closed: line buffering must have flushed both lines already
    read = read_jsonl(tmp_path / "h.jsonl")
    assert [r["time"] for r in read.records] == [1, 2]
    assert not read.torn
    w.close()


def test_torn_last_line_is_ignored_and_noted(tmp_path: Path) -> None:
    p = tmp_path / "o.jsonl"
    p.write_text('{"time": 1}\n{"time": 2}\n{"time": 3, "no')
    read = read_jsonl(p)
    assert [r["time"] for r in read.records] == [1, 2]
    assert read.torn


def test_corruption_in_the_middle_is_an_error(tmp_path: Path) -> None:
    p = tmp_path / "o.jsonl"
    p.write_text('{"time": 1}\nnot json\n{"time": 3}\n')
    with pytest.raises(ValueError, match="line 2"):
        read_jsonl(p)


def test_missing_stream_reads_empty(tmp_path: Path) -> None:
    assert read_jsonl(tmp_path / "absent.jsonl").records == []


def test_run_clock_is_monotonic() -> None:
    clock = RunClock()
    a = clock.now()
    b = clock.now()
    assert 0 <= a <= b
