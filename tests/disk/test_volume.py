"""The volatile tree and its metadata log, without FUSE: what each fsync makes durable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.disk.volume import Volume

REG = 0o100644


@pytest.fixture
def backing(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    root = tmp_path / "backing"
    root.mkdir()
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    yield root, fd
    os.close(fd)


def _tree(root: Path) -> dict[str, bytes | None]:
    """The durable state: relative path -> content (None for directories)."""
    found: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        found[rel] = None if path.is_dir() else path.read_bytes()
    return found


def test_directory_fsync_persists_the_log_prefix_in_order(backing: tuple[Path, int]) -> None:
    root, fd = backing
    vol = Volume(fd)
    sub = vol.mkdir(vol.root, b"sub", 0o755, 0, 0)
    first = vol.create(sub, b"first", REG, 0, 0)
    vol.write(first, 0, b"data")
    vol.create(vol.root, b"later", REG, 0, 0)
    vol.fsync(sub, datasync=False)
    # mkdir and create in sub are durable; the later sibling and the data are not.
    assert _tree(root) == {"sub": None, "sub/first": b""}
    vol.fsync(first, datasync=True)
    assert _tree(root) == {"sub": None, "sub/first": b"data"}
    assert vol.pending().ops == 1
    vol.close()


def test_a_new_volume_sees_only_the_durable_state(backing: tuple[Path, int]) -> None:
    _, fd = backing
    vol = Volume(fd)
    kept = vol.create(vol.root, b"kept", REG, 0, 0)
    vol.write(kept, 0, b"v1")
    vol.fsync(kept, datasync=False)
    vol.rename(vol.root, b"kept", vol.root, b"renamed", 0)
    vol.write(kept, 2, b"+v2")
    vol.close()
    after = Volume(fd, first_ino=vol.next_ino)
    assert sorted(after.entries(after.root)) == [b"kept"]
    node = after.lookup(after.root, b"kept")
    assert node.ino >= vol.next_ino
    assert after.read(node, 0, 100) == b"v1"
    after.close()


def test_unlink_and_rmdir_are_pending_too(backing: tuple[Path, int]) -> None:
    root, fd = backing
    (root / "d").mkdir()
    (root / "d" / "f").write_bytes(b"old")
    vol = Volume(fd)
    d = vol.lookup(vol.root, b"d")
    vol.unlink(d, b"f")
    vol.rmdir(vol.root, b"d")
    assert vol.entries(vol.root) == {}
    assert _tree(root) == {"d": None, "d/f": b"old"}
    vol.fsync(vol.root, datasync=False)
    assert _tree(root) == {}
    vol.close()


def test_errors_carry_the_errno_a_caller_expects(backing: tuple[Path, int]) -> None:
    _, fd = backing
    vol = Volume(fd)
    d = vol.mkdir(vol.root, b"d", 0o755, 0, 0)
    vol.create(d, b"f", REG, 0, 0)
    with pytest.raises(FileExistsError):
        vol.create(d, b"f", REG, 0, 0)
    with pytest.raises(OSError, match="not empty"):
        vol.rmdir(vol.root, b"d")
    with pytest.raises(IsADirectoryError):
        vol.unlink(vol.root, b"d")
    with pytest.raises(FileNotFoundError):
        vol.lookup(d, b"missing")
    with pytest.raises(FileExistsError):
        vol.rename(d, b"f", vol.root, b"d", 1)  # RENAME_NOREPLACE
    vol.close()
