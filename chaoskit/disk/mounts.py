"""Fault file system mounts on this machine: checks, discovery, unmounting, cleanup.

Every mount chaoskit makes has the file system type ``fuse.chaoskit`` and the source
``chaoskit-<run id>-<node id>``, so ``/proc/self/mountinfo`` alone says which run left
it; its file system process carries ``CHAOSKIT_FAULTFS=<mount point>`` (and the run's
``CHAOSKIT_RUN_ID`` and ``CHAOSKIT_CONTROLLER``) in its environment; the run's working
directory ``<root>/<run id>/`` (backing directories, control sockets) holds an
``owner`` file with the process token of the process that mounted (chaoskit/runtimes/registry.py).
A mount or directory is *stale* when that owner is gone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from chaoskit.errors import SetupError
from chaoskit.runtimes.registry import read_all, token_alive

SUBTYPE = "chaoskit"
FSTYPE = f"fuse.{SUBTYPE}"
FSNAME_PREFIX = "chaoskit-"
MOUNT_ENV = "CHAOSKIT_FAULTFS"
OWNER_FILE = "owner"
# Run ids and node ids become part of a mount option (no commas) and of file names.
NAME_RE = re.compile(r"^[A-Za-z0-9_.]+$")
NODE_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
UNMOUNT_TIMEOUT_S = 10.0
EXIT_TIMEOUT_S = 5.0


def default_root() -> Path:
    """Where runs keep their backing directories unless told otherwise."""
    return Path(tempfile.gettempdir()) / "chaoskit-disk"


@dataclass(frozen=True)
class FaultMount:
    """One chaoskit fault file system mount seen in the mount table."""

    source: str
    mountpoint: str
    run_id: str
    node_id: str


def check_fuse_available(
    *,
    device: str = "/dev/fuse",
    fusermount: str = "fusermount3",
    fuse_conf: str = "/etc/fuse.conf",
) -> None:
    """Raise ``SetupError`` with one line naming what is missing for fault file systems."""
    if not os.path.exists(device):
        raise SetupError(
            f"disk faults need FUSE: {device} does not exist (load the fuse kernel module; "
            "a container needs --device /dev/fuse --cap-add SYS_ADMIN)"
        )
    if not stat.S_ISCHR(os.stat(device).st_mode):
        raise SetupError(f"disk faults need FUSE: {device} is not a character device")
    try:
        os.close(os.open(device, os.O_RDWR | os.O_CLOEXEC))
    except OSError as exc:
        raise SetupError(f"disk faults need FUSE: cannot open {device}: {exc.strerror}") from None
    if shutil.which(fusermount) is None:
        raise SetupError(f"disk faults need FUSE: {fusermount} not found (Debian package fuse3)")
    try:
        import pyfuse3  # noqa: F401
    except ImportError as exc:
        raise SetupError(
            f"disk faults need pyfuse3, which cannot be imported ({exc}): install chaoskit[disk]"
        ) from None
    if os.geteuid() != 0 and not _allows_other(fuse_conf):
        raise SetupError(
            f"disk faults need root, or user_allow_other in {fuse_conf} "
            "(nodes must reach the mount: allow_other)"
        )


def _allows_other(fuse_conf: str) -> bool:
    try:
        text = Path(fuse_conf).read_text()
    except OSError:
        return False
    return any(line.strip() == "user_allow_other" for line in text.splitlines())


def fault_mounts(mountinfo: str = "/proc/self/mountinfo") -> list[FaultMount]:
    """Every chaoskit fault file system mount in the mount table."""
    found: list[FaultMount] = []
    try:
        lines = Path(mountinfo).read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        head, sep, tail = line.partition(" - ")
        fields, extra = head.split(), tail.split()
        if not sep or len(fields) < 5 or len(extra) < 2 or extra[0] != FSTYPE:
            continue
        source = _unescape(extra[1])
        if not source.startswith(FSNAME_PREFIX):
            continue
        run_id, _, node_id = source[len(FSNAME_PREFIX) :].partition("-")
        found.append(FaultMount(source, _unescape(fields[4]), run_id, node_id))
    return found


def is_mounted(mountpoint: str | Path) -> bool:
    path = os.path.abspath(mountpoint)
    return any(m.mountpoint == path for m in fault_mounts())


def unmount(mountpoint: str | Path, *, fusermount: str = "fusermount3") -> None:
    """Unmount a fault file system: ``fusermount3 -u``, then lazily (``-z``) if busy."""
    path = os.path.abspath(mountpoint)
    for args in ([fusermount, "-u", path], [fusermount, "-u", "-z", path]):
        if not is_mounted(path):
            return
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            subprocess.run(args, capture_output=True, timeout=UNMOUNT_TIMEOUT_S, check=False)
    if is_mounted(path):
        raise SetupError(f"could not unmount the fault file system at {path}")


def faultfs_pids(mountpoint: str | Path | None = None) -> dict[int, tuple[str, str]]:
    """File system processes (of ``mountpoint``, or all): pid -> (mount point, controller)."""
    wanted = None if mountpoint is None else os.path.abspath(mountpoint)
    found: dict[int, tuple[str, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        env = dict(item.decode(errors="replace").partition("=")[::2] for item in environ if item)
        where = env.get(MOUNT_ENV)
        if where is not None and (wanted is None or where == wanted):
            found[int(entry.name)] = (where, env.get("CHAOSKIT_CONTROLLER", ""))
    return found


def stop_process(pid: int, *, timeout: float = EXIT_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL after ``timeout``; returns once the process is gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.02)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone); reaps it if it is our child."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return text[text.rfind(")") + 2 :][:1] not in ("Z", "X", "")


def owner_alive(run_dir: Path) -> bool:
    """Does the process that made ``run_dir`` (its ``owner`` token) still run?"""
    try:
        token = (run_dir / OWNER_FILE).read_text().strip()
    except OSError:
        return False
    return token_alive(token)


def cleanup_mounts(
    run_id: str | None = None,
    *,
    root: Path | None = None,
    fusermount: str = "fusermount3",
) -> list[str]:
    """Remove the fault file systems of ``run_id`` (or of every run whose owner is gone).

    Unmounts (lazily when busy), stops their file system processes, and removes the
    runs' working directories under ``root``. Returns one line per thing removed.
    """
    root = default_root() if root is None else root
    lines: list[str] = []
    processes = faultfs_pids()
    for mount in fault_mounts():
        if run_id is not None and mount.run_id != run_id:
            continue
        pids = [pid for pid, (where, _) in processes.items() if where == mount.mountpoint]
        if run_id is None and _in_progress(root / mount.run_id, pids, processes):
            continue
        unmount(mount.mountpoint, fusermount=fusermount)
        for pid in pids:
            stop_process(pid)
        lines.append(f"unmounted fault file system {mount.source} at {mount.mountpoint}")
    lines += _remove_run_dirs(root, run_id)
    return lines


def cleanup_disks(run_id: str | None = None) -> list[str]:
    """``chaoskit cleanup``: ``cleanup_mounts`` under the default root and under every
    root the registry of runs names (a run started with another ``$TMPDIR``)."""
    roots = [default_root()]
    roots += [
        Path(r.disk_root) for r in read_all() if r.disk_root and Path(r.disk_root) not in roots
    ]
    lines: list[str] = []
    for root in roots:
        lines += cleanup_mounts(run_id, root=root)
    return lines


def _in_progress(run_dir: Path, pids: list[int], processes: dict[int, tuple[str, str]]) -> bool:
    """A run is in progress while its owner, or the controller of a live FS process, runs."""
    if owner_alive(run_dir):
        return True
    return any(token_alive(processes[pid][1]) for pid in pids if processes[pid][1])


def _remove_run_dirs(root: Path, run_id: str | None) -> list[str]:
    lines: list[str] = []
    if not root.is_dir():
        return lines
    mounted = {m.run_id for m in fault_mounts()}
    for run_dir in sorted(root.iterdir()):
        if not run_dir.is_dir() or run_dir.name in mounted:
            continue
        if run_id is not None and run_dir.name != run_id:
            continue
        if run_id is None and owner_alive(run_dir):
            continue
        shutil.rmtree(run_dir, ignore_errors=True)
        lines.append(f"removed disk fault directory {run_dir}")
    with contextlib.suppress(OSError):
        root.rmdir()  # only when empty: other runs may be using it
    return lines


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal (``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
