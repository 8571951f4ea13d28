"""The Raft data directory: what is fsynced comes back; a torn tail does not; rot refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.targets.raft._core import Entry, HardState, Ready
from chaoskit.targets.raft._storage import LOG, Storage, StorageError


def _entries(*terms: int) -> list[Entry]:
    return [Entry(t, {"f": "put", "key": "k", "value": i}) for i, t in enumerate(terms)]


def test_state_and_log_round_trip_with_truncation(tmp_path: Path) -> None:
    s = Storage(tmp_path)
    s.save(Ready(hard_state=HardState(3, "n2"), log_from=1, entries=_entries(1, 1, 2)))
    s.save(Ready(log_from=2, entries=_entries(3)))  # a conflict cut the log at 2
    s.close()
    hard, log = Storage(tmp_path).load()
    assert hard == HardState(3, "n2")
    assert [e.term for e in log] == [1, 3]


def test_torn_last_line_is_dropped_and_repaired(tmp_path: Path) -> None:
    s = Storage(tmp_path)
    s.save(Ready(log_from=1, entries=_entries(1, 1)))
    s.close()
    with open(tmp_path / LOG, "a") as f:
        f.write('{"i": 3, "t": 1, "op": {"f"')
    s = Storage(tmp_path)
    assert len(s.load()[1]) == 2
    s.save(Ready(log_from=3, entries=_entries(2)))
    s.close()
    assert [e.term for e in Storage(tmp_path).load()[1]] == [1, 1, 2]


def test_corruption_in_the_middle_refuses_to_start(tmp_path: Path) -> None:
    (tmp_path / LOG).write_text('{"i": 1, "t": 1, "op": {}}\nrubbish\n{"i": 2, "t": 1, "op": {}}\n')
    with pytest.raises(StorageError, match="line 2 is corrupt"):
        Storage(tmp_path).load()
    (tmp_path / LOG).write_text('{"i": 5, "t": 1, "op": {}}\n')
    with pytest.raises(StorageError, match="skips to index 5"):
        Storage(tmp_path).load()


def test_a_line_that_is_not_utf8_is_corruption_too(tmp_path: Path) -> None:
    """A flipped bit (the ``corrupt-minority`` nemesis) can leave bytes that are not UTF-8."""
    good = b'{"i": 1, "t": 1, "op": {}}\n'
    (tmp_path / LOG).write_bytes(good + b'{"i": 2, "t": 1, "op": {"\xe4"}}\n' + good)
    with pytest.raises(StorageError, match="line 2 is corrupt"):
        Storage(tmp_path).load()
    (tmp_path / LOG).write_bytes(good + b'{"i": 2, "t": 1, "op": {"\xe4')  # a torn tail
    assert len(Storage(tmp_path).load()[1]) == 1
