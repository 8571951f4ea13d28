"""The fault file system for real: a FUSE mount, power losses through its control socket."""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path

import pytest

from chaoskit.disk import DiskFaults
from chaoskit.disk.control import ControlError

pytestmark = pytest.mark.integration


def _write(path: Path, data: bytes, *, fsync: bool) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@pytest.fixture
def mounted(disk: DiskFaults, short_dir: Path) -> tuple[DiskFaults, Path]:
    data = short_dir / "n1"
    disk.mount("n1", data)
    return disk, data


def test_writes_read_back_through_the_mount(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    (data / "sub").mkdir()
    blob = random.Random(1).randbytes(300_000)
    (data / "sub" / "blob").write_bytes(blob)
    assert (data / "sub" / "blob").read_bytes() == blob
    assert sorted(os.listdir(data)) == ["sub"]
    status = disk.status("n1")
    assert status["pending_files"] == 1
    assert status["pending_ops"] == 2  # mkdir, create
    assert status["dirty_paths"] == ["sub/blob"]
    # Nothing reached the backing directory yet.
    assert list(disk.mounts()["n1"].backing.iterdir()) == []


def test_fsynced_data_survives_a_power_loss(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    _write(data / "log", b"synced\n", fsync=True)
    _fsync_dir(data)
    _write(data / "log", b"not synced\n", fsync=False)
    assert (data / "log").read_bytes() == b"synced\nnot synced\n"
    lost = disk.power_loss("n1")
    assert lost["dropped_files"] == 1 and lost["node"] == "n1"
    assert (data / "log").read_bytes() == b"synced\n"


def test_unsynced_data_and_creation_are_lost(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    _write(data / "never-synced", b"gone", fsync=False)
    (data / "d").mkdir()
    lost = disk.power_loss("n1")
    assert (lost["dropped_ops"], lost["dropped_files"]) == (2, 1)
    assert os.listdir(data) == []


def test_a_file_fsync_persists_its_creation_but_not_a_later_sibling(
    mounted: tuple[DiskFaults, Path],
) -> None:
    disk, data = mounted
    _write(data / "a", b"a", fsync=True)
    _write(data / "b", b"b", fsync=False)
    disk.power_loss("n1")
    assert os.listdir(data) == ["a"]
    assert (data / "a").read_bytes() == b"a"


def test_an_unsynced_rename_reverts(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    _write(data / "state.tmp", b"v2", fsync=True)
    _write(data / "state", b"v1", fsync=True)
    _fsync_dir(data)
    os.rename(data / "state.tmp", data / "state")
    assert (data / "state").read_bytes() == b"v2"
    disk.power_loss("n1")
    assert sorted(os.listdir(data)) == ["state", "state.tmp"]
    assert (data / "state").read_bytes() == b"v1"


def test_a_rename_made_durable_by_a_directory_fsync_stays(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    _write(data / "state.tmp", b"v2", fsync=True)
    os.rename(data / "state.tmp", data / "state")
    _fsync_dir(data)
    os.unlink(data / "state")  # not synced: comes back
    disk.power_loss("n1")
    assert os.listdir(data) == ["state"]
    assert (data / "state").read_bytes() == b"v2"


def test_truncation_is_file_data_persisted_by_fdatasync(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    _write(data / "f", b"0123456789", fsync=True)
    _fsync_dir(data)
    fd = os.open(data / "f", os.O_RDWR)
    os.ftruncate(fd, 4)
    os.fdatasync(fd)
    os.ftruncate(fd, 2)  # lost
    os.close(fd)
    disk.power_loss("n1")
    assert (data / "f").read_bytes() == b"0123"


def test_torn_write_leaves_a_prefix_of_the_last_write(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    _write(data / "wal", b"committed;", fsync=True)
    _fsync_dir(data)
    _write(data / "wal", b"record-one;", fsync=False)
    _write(data / "wal", b"record-two-is-long;", fsync=False)
    _write(data / "other", b"lost", fsync=False)
    result = disk.torn_write("n1", "wal", random.Random(3))
    torn = result["torn"]
    assert (torn["path"], torn["offset"], torn["length"]) == ("wal", 21, 19)
    assert 1 <= torn["kept"] <= 18
    content = (data / "wal").read_bytes()
    assert content == b"committed;record-one;" + b"record-two-is-long;"[: torn["kept"]]
    assert os.listdir(data) == ["wal"]
    # The same seed tears at the same place.
    assert torn["kept"] == min(18, max(1, int(19 * random.Random(3).random())))


def test_torn_write_of_a_file_without_unsynced_write_is_refused(
    mounted: tuple[DiskFaults, Path],
) -> None:
    disk, data = mounted
    _write(data / "wal", b"all synced", fsync=True)
    killed: list[bool] = []
    with pytest.raises(ControlError, match="no unsynced write of wal"):
        disk.torn_write("n1", "wal", random.Random(1), kill=lambda: killed.append(True))
    assert killed == []
    assert disk.status("n1")["frozen"] is False


def test_sync_all_makes_everything_durable(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    (data / "d").mkdir()
    _write(data / "d" / "x", b"x" * 10_000, fsync=False)
    os.symlink("d/x", data / "link")
    disk.sync_all("n1")
    assert disk.status("n1")["pending_ops"] == 0
    disk.power_loss("n1")
    assert (data / "d" / "x").read_bytes() == b"x" * 10_000
    assert os.readlink(data / "link") == "d/x"


def test_handles_from_before_a_power_loss_fail_and_the_mount_keeps_working(
    mounted: tuple[DiskFaults, Path],
) -> None:
    disk, data = mounted
    fd = os.open(data / "f", os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b"before")
    disk.power_loss("n1")
    with pytest.raises(OSError) as failed:
        os.write(fd, b"after")
    assert failed.value.errno == errno.EIO
    os.close(fd)
    assert os.listdir(data) == []
    _write(data / "f", b"new life", fsync=True)
    disk.power_loss("n1")
    assert (data / "f").read_bytes() == b"new life"
    assert disk.status("n1")["epoch"] == 2


def test_hard_links_modes_and_nested_directories(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    (data / "a" / "b").mkdir(parents=True)
    _write(data / "a" / "b" / "f", b"data", fsync=True)
    os.chmod(data / "a" / "b" / "f", 0o600)
    os.link(data / "a" / "b" / "f", data / "a" / "g")
    _fsync_dir(data / "a")  # persists the log up to the link: the chmod before it too
    os.chmod(data / "a" / "g", 0o644)  # after it: lost
    assert os.stat(data / "a" / "b" / "f").st_nlink == 2
    disk.power_loss("n1")
    assert (data / "a" / "g").read_bytes() == b"data"
    assert os.stat(data / "a" / "g").st_mode & 0o777 == 0o600
    assert os.stat(data / "a" / "g").st_ino == os.stat(data / "a" / "b" / "f").st_ino
