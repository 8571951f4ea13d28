"""Mount lifecycle: the FUSE check, refusals, and cleanup of what a killed run left."""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from chaoskit.disk import DiskFaults, check_fuse_available, cleanup_mounts, fault_mounts
from chaoskit.disk.mounts import faultfs_pids
from chaoskit.errors import ConfigError, SetupError


def test_missing_fuse_device_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(SetupError) as missing:
        check_fuse_available(device=str(tmp_path / "fuse"))
    message = str(missing.value)
    assert "\n" not in message
    assert f"{tmp_path / 'fuse'} does not exist" in message
    assert "--device /dev/fuse" in message
    (tmp_path / "plain").write_text("")
    with pytest.raises(SetupError, match="is not a character device"):
        check_fuse_available(device=str(tmp_path / "plain"))


def test_missing_fusermount_is_one_clear_line(fuse: None) -> None:
    with pytest.raises(SetupError, match=r"no-such-fusermount3 not found \(Debian package fuse3\)"):
        check_fuse_available(fusermount="no-such-fusermount3")


def test_mount_without_fuse_fails_before_touching_anything(tmp_path: Path) -> None:
    faults = DiskFaults("run1", root=tmp_path / "disk", device=str(tmp_path / "nofuse"))
    with pytest.raises(SetupError, match="does not exist"):
        faults.mount("n1", tmp_path / "data")
    assert not (tmp_path / "data").exists()
    assert not (tmp_path / "disk").exists()


def test_bad_names_and_busy_directories_are_refused(disk: DiskFaults, short_dir: Path) -> None:
    with pytest.raises(ConfigError, match="run id"):
        DiskFaults("a-b")
    with pytest.raises(ConfigError, match="node id"):
        disk.mount("n,1", short_dir / "x")
    (short_dir / "full").mkdir()
    (short_dir / "full" / "file").write_text("x")
    with pytest.raises(ConfigError, match="is not empty"):
        disk.mount("n1", short_dir / "full")
    disk.mount("n1", short_dir / "d1")
    with pytest.raises(ConfigError, match="has a fault file system already"):
        disk.mount("n1", short_dir / "d2")
    with pytest.raises(ConfigError, match="n2 has no fault file system"):
        disk.power_loss("n2")


@pytest.mark.integration
def test_mount_shows_run_and_node_and_unmount_leaves_nothing(fuse: None, short_dir: Path) -> None:
    faults = DiskFaults(uuid.uuid4().hex[:10], root=short_dir / "disk")
    mount = faults.mount("n-1", short_dir / "data")
    (short_dir / "data" / "f").write_text("x")
    [seen] = [m for m in fault_mounts() if m.run_id == faults.run_id]
    assert (seen.node_id, seen.mountpoint) == ("n-1", str(mount.data_dir))
    assert seen.source == f"chaoskit-{faults.run_id}-n-1"
    pid = mount.process.pid
    assert pid in faultfs_pids(mount.data_dir)
    faults.unmount_all()
    assert not [m for m in fault_mounts() if m.run_id == faults.run_id]
    assert not (short_dir / "data").exists()  # it created the data dir: it removes it
    assert not faults.run_dir.exists()
    assert mount.process.poll() is not None


@pytest.mark.integration
def test_cleanup_removes_a_mount_whose_file_system_was_killed(fuse: None, short_dir: Path) -> None:
    root = short_dir / "disk"
    faults = DiskFaults(uuid.uuid4().hex[:10], root=root)
    mount = faults.mount("n1", short_dir / "data")
    os.kill(mount.process.pid, signal.SIGKILL)
    mount.process.wait()
    with pytest.raises(OSError) as dead:
        os.listdir(mount.data_dir)
    assert dead.value.errno == errno.ENOTCONN
    # This process (the owner) lives, so only a cleanup naming the run touches it.
    spared = cleanup_mounts(root=root)  # may clean other, stale runs of this machine
    assert not [line for line in spared if faults.run_id in line]
    lines = cleanup_mounts(faults.run_id, root=root)
    assert lines == [
        f"unmounted fault file system chaoskit-{faults.run_id}-n1 at {mount.data_dir}",
        f"removed disk fault directory {faults.run_dir}",
    ]
    assert not [m for m in fault_mounts() if m.run_id == faults.run_id]
    assert os.listdir(mount.data_dir) == []
    faults.unmount_all()  # idempotent after an external cleanup


OWNER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from chaoskit.disk import DiskFaults
    faults = DiskFaults(sys.argv[1], root=Path(sys.argv[2]))
    faults.mount("n1", Path(sys.argv[3]))
    print("mounted", flush=True)
    time.sleep(600)
    """
)


@pytest.mark.integration
def test_cleanup_without_run_id_removes_what_a_killed_controller_left(
    fuse: None, short_dir: Path
) -> None:
    root, data, run_id = short_dir / "disk", short_dir / "data", uuid.uuid4().hex[:10]
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER, run_id, str(root), str(data)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert owner.stdout is not None and owner.stdout.readline() == "mounted\n"
        (data / "file").write_text("x")
        spared = cleanup_mounts(root=root)  # its controller lives: spared
        assert not [line for line in spared if run_id in line]
        owner.kill()
        owner.wait()
        lines = cleanup_mounts(root=root)
    finally:
        owner.kill()
        owner.wait()
        cleanup_mounts(run_id, root=root)
    assert f"unmounted fault file system chaoskit-{run_id}-n1 at {data}" in lines
    assert not [m for m in fault_mounts() if m.run_id == run_id]
    assert not faultfs_pids(data)
    assert not (root / run_id).exists()


@pytest.mark.integration
def test_corrupt_syncs_then_damages_what_the_restarted_node_reads(
    disk: DiskFaults, short_dir: Path
) -> None:
    data = short_dir / "n1"
    disk.mount("n1", data)
    (data / "wal").write_bytes(b"\x00" * 64)  # not synced: a stopped node's kernel would
    result = disk.corrupt("n1", random.Random(9), "bitflip", path="wal", bits=2)
    content = (data / "wal").read_bytes()
    assert len(content) == 64
    flipped = [i for i, byte in enumerate(content) if byte]
    assert flipped == [f["offset"] for f in result["flips"]]
    assert result["node"] == "n1"
    assert disk.status("n1")["pending_files"] == 0


@pytest.mark.integration
def test_a_busy_mount_is_still_removed(fuse: None, short_dir: Path) -> None:
    """A node still running in its data dir (cwd, an open file) cannot keep the mount."""
    faults = DiskFaults(uuid.uuid4().hex[:10], root=short_dir / "disk")
    mount = faults.mount("n1", short_dir / "data")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; f = open('held', 'w'); print(1, flush=True); "
         "time.sleep(600)"],
        cwd=mount.data_dir,
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"1\n"
        faults.unmount_all()
        assert not [m for m in fault_mounts() if m.run_id == faults.run_id]
        assert mount.process.poll() is not None
        assert not faults.run_dir.exists()
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.integration
def test_a_file_system_that_cannot_start_is_one_line_and_leaves_nothing(
    fuse: None, short_dir: Path
) -> None:
    fake = short_dir / "python"
    fake.write_text("#!/bin/sh\necho 'faultfs: cannot mount /x: simulated failure' >&2\nexit 2\n")
    fake.chmod(0o755)
    faults = DiskFaults(uuid.uuid4().hex[:10], root=short_dir / "disk", python=str(fake))
    with pytest.raises(SetupError) as failed:
        faults.mount("n1", short_dir / "data")
    assert str(failed.value) == (
        "fault file system of n1 did not start: faultfs: cannot mount /x: simulated failure"
    )
    assert not (short_dir / "data").exists()
    assert faults.mounts() == {}
    faults.unmount_all()
    assert not (short_dir / "disk").exists()
