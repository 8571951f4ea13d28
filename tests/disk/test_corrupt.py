"""corrupt_file: seeded bit flips and truncation of a stopped node's files."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from chaoskit.disk import corrupt_file
from chaoskit.errors import ConfigError


@pytest.fixture
def state(tmp_path: Path) -> Path:
    root = tmp_path / "state"
    (root / "wal").mkdir(parents=True)
    (root / "wal" / "0001.log").write_bytes(bytes(range(256)) * 40)
    (root / "wal" / "0002.log").write_bytes(b"\xff" * 5000)
    (root / "snapshot").write_bytes(b"snap" * 100)
    (root / "empty").write_bytes(b"")
    return root


def test_bitflip_flips_exactly_the_reported_bits(state: Path) -> None:
    before = {p: p.read_bytes() for p in state.rglob("*") if p.is_file()}
    result = corrupt_file(state, random.Random(4), mode="bitflip", bits=3)
    target = state / result["path"]
    after = target.read_bytes()
    original = before[target]
    assert len(after) == len(original)
    changed = [i for i in range(len(after)) if after[i] != original[i]]
    assert changed == [f["offset"] for f in result["flips"]]
    for flip in result["flips"]:
        assert flip["before"] == original[flip["offset"]]
        assert flip["after"] == original[flip["offset"]] ^ (1 << flip["bit"])
    assert all(p.read_bytes() == data for p, data in before.items() if p != target)


def test_the_same_seed_corrupts_the_same_bytes(state: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(state, copy)
    first = corrupt_file(state, random.Random(11), mode="bitflip", bits=2)
    second = corrupt_file(copy, random.Random(11), mode="bitflip", bits=2)
    assert first == second
    assert (state / first["path"]).read_bytes() == (copy / first["path"]).read_bytes()
    third = corrupt_file(state, random.Random(12), mode="truncate")
    fourth = corrupt_file(copy, random.Random(12), mode="truncate")
    assert third == fourth


def test_truncate_cuts_a_matching_file_short(state: Path) -> None:
    result = corrupt_file(state, random.Random(2), mode="truncate", pattern="wal/*.log")
    assert result["path"].startswith("wal/")
    assert result["size_after"] < result["size_before"]
    assert (state / result["path"]).stat().st_size == result["size_after"]


def test_named_file_and_nothing_to_corrupt(state: Path) -> None:
    result = corrupt_file(state, random.Random(1), path="snapshot", bits=1)
    assert result["path"] == "snapshot" and len(result["flips"]) == 1
    assert corrupt_file(state, random.Random(1), pattern="*.db") == {
        "mode": "bitflip",
        "path": None,
        "skipped": "no non-empty file matching '*.db'",
    }
    with pytest.raises(ConfigError, match="not a non-empty regular file"):
        corrupt_file(state, random.Random(1), path="empty")
    with pytest.raises(ConfigError, match="outside"):
        corrupt_file(state, random.Random(1), path="../state/../../etc/passwd")
    with pytest.raises(ConfigError, match="mode 'zap' unknown"):
        corrupt_file(state, random.Random(1), mode="zap")
