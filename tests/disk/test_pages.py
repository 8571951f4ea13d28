"""The page cache of one file against a plain bytearray model of the same operations."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.disk.pages import PAGE, FileData


@pytest.fixture
def backing(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path / "file", os.O_CREAT | os.O_RDWR, 0o600)
    yield fd
    os.close(fd)


def _disk(fd: int) -> bytes:
    return os.pread(fd, 1 << 20, 0)


def test_reads_see_writes_and_the_backing_file_does_not(backing: int) -> None:
    os.pwrite(backing, b"old content", 0)
    data = FileData(11)
    data.write(backing, 4, b"NEW")
    assert data.read(backing, 0, 100) == b"old NEWtent"
    assert _disk(backing) == b"old content"
    data.sync(backing, datasync=False)
    assert _disk(backing) == b"old NEWtent"
    assert not data.dirty


def test_shrink_then_grow_reads_zeros_and_syncs_them(backing: int) -> None:
    os.pwrite(backing, b"x" * (3 * PAGE), 0)
    data = FileData(3 * PAGE)
    data.truncate(10)
    data.truncate(2 * PAGE)
    assert data.read(backing, 0, 3 * PAGE) == b"x" * 10 + bytes(2 * PAGE - 10)
    data.sync(backing, datasync=True)
    assert _disk(backing) == b"x" * 10 + bytes(2 * PAGE - 10)


def test_tear_keeps_earlier_writes_and_a_prefix_of_the_last(backing: int) -> None:
    data = FileData(0)
    data.write(backing, 0, b"first;")
    data.write(backing, 6, b"second-record")
    last = data.tear(backing, 4)
    assert (last.offset, last.length) == (6, 13)
    data.sync(backing, datasync=False)
    assert _disk(backing) == b"first;seco"


def test_tear_of_an_overwrite_restores_the_old_bytes_beyond_the_cut(backing: int) -> None:
    os.pwrite(backing, b"AAAAAAAAAA", 0)
    data = FileData(10)
    data.write(backing, 2, b"bbbbbbbbbbbb")  # overwrites 8 bytes, appends 4
    data.tear(backing, 3)
    data.sync(backing, datasync=False)
    assert _disk(backing) == b"AAbbbAAAAA"


def test_tear_needs_a_write_since_the_last_truncate(backing: int) -> None:
    data = FileData(0)
    data.write(backing, 0, b"abc")
    data.truncate(1)
    with pytest.raises(ValueError, match="no unsynced write"):
        data.tear(backing, 1)


_payload = st.binary(min_size=1, max_size=PAGE + 9)
_ops = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.integers(0, 3 * PAGE), _payload),
        st.tuples(st.just("truncate"), st.integers(0, 4 * PAGE), st.just(b"")),
        st.tuples(st.just("sync"), st.just(0), st.just(b"")),
    ),
    max_size=25,
)


@settings(max_examples=150, deadline=None)
@given(initial=st.binary(max_size=2 * PAGE + 3), ops=_ops)
def test_matches_a_bytearray_model(
    tmp_path_factory: pytest.TempPathFactory, initial: bytes, ops: list[tuple[str, int, bytes]]
) -> None:
    """Reads always equal the model; the backing file equals it as of the last sync."""
    path = tmp_path_factory.mktemp("model") / "file"
    path.write_bytes(initial)
    fd = os.open(path, os.O_RDWR)
    try:
        model, durable = bytearray(initial), bytes(initial)
        data = FileData(len(initial))
        for op, number, payload in ops:
            if op == "write":
                data.write(fd, number, payload)
                if number > len(model):
                    model.extend(bytes(number - len(model)))
                model[number : number + len(payload)] = payload
            elif op == "truncate":
                data.truncate(number)
                del model[number:]
                model.extend(bytes(number - len(model)))
            else:
                data.sync(fd, datasync=False)
                durable = bytes(model)
            assert data.size == len(model)
            assert data.read(fd, 0, len(model) + 10) == bytes(model)
            assert _disk(fd) == durable
    finally:
        os.close(fd)
