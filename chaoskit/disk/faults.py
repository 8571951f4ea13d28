"""``DiskFaults``: the controller's handle on the fault file systems of one run.

One file system process per node, mounted on the node's data directory, its durable
state in ``<root>/<run id>/<node>/`` (removed with the mount). The power-loss sequence,
on one control connection (chaoskit/disk/faultfs.py):

1. ``freeze``: the file system answers once no request is half done; from then on
   every request waits;
2. ``kill()``, the caller's callable, delivers the fatal signal to the node and
   returns. It must NOT wait for the process to exit: a process blocked in a frozen
   request cannot die before the file system answers it (it answers after step 4);
3. ``power-loss``: every unsynced change is dropped; requests that waited fail with
   EIO, so nothing the node did after the freeze reaches the file system;
4. ``thaw``; the caller then reaps the node (the runtime's ``kill``) and restarts it
   on the same mount when it wants.

So nothing the node writes after the instant of the power loss is seen, and nothing it
wrote before and did not sync survives. If ``kill`` raises, the file system thaws and
nothing is dropped; if the controller dies mid-way, the closed connection thaws it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from chaoskit.disk.control import Control, request
from chaoskit.disk.corrupt import corrupt_file
from chaoskit.disk.mounts import (
    FSNAME_PREFIX,
    MOUNT_ENV,
    NAME_RE,
    NODE_RE,
    OWNER_FILE,
    check_fuse_available,
    default_root,
    is_mounted,
    stop_process,
    unmount,
)
from chaoskit.errors import ConfigError, SetupError
from chaoskit.runtimes.registry import process_token

START_TIMEOUT_S = 15.0
# AF_UNIX paths are limited to 108 bytes, the terminating NUL included.
MAX_SOCKET_PATH = 107


@dataclass
class Mount:
    """One node's fault file system."""

    node_id: str
    data_dir: Path
    backing: Path
    control: str
    process: subprocess.Popen[bytes]
    log_path: Path
    created_dir: bool


class DiskFaults:
    """Mount fault file systems under nodes' data directories and inject disk faults."""

    def __init__(
        self,
        run_id: str,
        *,
        root: Path | None = None,
        log_dir: Path | None = None,
        device: str = "/dev/fuse",
        fusermount: str = "fusermount3",
        python: str = sys.executable,
        start_timeout: float = START_TIMEOUT_S,
    ) -> None:
        if not NAME_RE.match(run_id):
            raise ConfigError(f"run id {run_id!r}: letters, digits, '_' and '.' only")
        self.run_id = run_id
        self.run_dir = (default_root() if root is None else root).absolute() / run_id
        self.log_dir = log_dir
        self.device = device
        self.fusermount = fusermount
        self.python = python
        self.start_timeout = start_timeout
        self._mounts: dict[str, Mount] = {}
        self._checked = False

    # ------------------------------------------------------------ mounting

    def check(self) -> None:
        """``check_fuse_available`` for this configuration (once)."""
        if not self._checked:
            check_fuse_available(device=self.device, fusermount=self.fusermount)
            self._checked = True

    def mount(self, node_id: str, data_dir: Path) -> Mount:
        """Mount a fault file system on ``data_dir`` (created if missing; must be empty)."""
        if not NODE_RE.match(node_id):
            raise ConfigError(f"node id {node_id!r}: letters, digits, '_', '.' and '-' only")
        if node_id in self._mounts:
            raise ConfigError(f"node {node_id} has a fault file system already")
        self.check()
        control = str(self.run_dir / f"{node_id}.sock")
        if len(control.encode()) > MAX_SOCKET_PATH:
            raise ConfigError(f"disk fault directory {self.run_dir} is too long for a socket path")
        created = not data_dir.exists()
        if not created and any(data_dir.iterdir()):
            raise ConfigError(f"data directory {data_dir} is not empty: cannot mount over it")
        data_dir.mkdir(parents=True, exist_ok=True)
        data_dir = data_dir.resolve()  # as the mount table will name it
        self._claim_run_dir()
        backing = self.run_dir / node_id
        backing.mkdir()
        log_path = (self.log_dir or self.run_dir) / f"{node_id}-faultfs.log"
        try:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as log:
                process = self._spawn(node_id, backing, data_dir, control, log)
        except BaseException:
            shutil.rmtree(backing, ignore_errors=True)
            if created:
                data_dir.rmdir()
            raise
        mount = Mount(node_id, data_dir, backing, control, process, log_path, created)
        self._mounts[node_id] = mount
        try:
            self._wait_ready(mount)
        except BaseException:
            self.unmount(node_id)
            raise
        return mount

    def unmount(self, node_id: str) -> None:
        """Unmount, stop the file system process, remove its backing directory."""
        mount = self._mounts.pop(node_id, None)
        if mount is None:
            return
        try:
            unmount(mount.data_dir, fusermount=self.fusermount)
        finally:
            # The process ends by itself once unmounted; a lazy unmount may keep it.
            with contextlib.suppress(subprocess.TimeoutExpired):
                mount.process.wait(timeout=2.0)
            if mount.process.poll() is None:
                stop_process(mount.process.pid)
            mount.process.wait()
            shutil.rmtree(mount.backing, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(mount.control)
            if mount.created_dir:
                with contextlib.suppress(OSError):
                    mount.data_dir.rmdir()

    def unmount_all(self) -> None:
        """Every mount of this run, then the run's working directory; idempotent."""
        errors: list[str] = []
        for node_id in list(self._mounts):
            try:
                self.unmount(node_id)
            except SetupError as exc:
                errors.append(str(exc))
        if self.run_dir.is_dir():
            shutil.rmtree(self.run_dir, ignore_errors=True)
        with contextlib.suppress(OSError):
            self.run_dir.parent.rmdir()
        if errors:
            raise SetupError("; ".join(errors))

    def mounts(self) -> dict[str, Mount]:
        return dict(self._mounts)

    # ------------------------------------------------------------ faults

    def power_loss(self, node_id: str, kill: Callable[[], object] | None = None) -> dict[str, Any]:
        """Kill the node (``kill``) and drop every unsynced change at the same instant."""
        return {
            "node": node_id,
            **self._power_loss([(node_id, None)], lambda _: kill and kill())[0],
        }

    def power_loss_together(
        self, node_ids: Sequence[str], kill: Callable[[str], object] | None = None
    ) -> dict[str, dict[str, Any]]:
        """A power loss of several nodes at one instant (a whole rack, a data centre).

        Every file system is frozen before any node is killed (``kill(node)`` for each)
        and none drops anything before every node was killed, so no node sees another
        one's power loss before its own. Returns what each dropped, by node.
        """
        results = self._power_loss([(n, None) for n in node_ids], kill or (lambda _: None))
        return dict(zip(node_ids, results, strict=True))

    def torn_write(
        self,
        node_id: str,
        path: str,
        rng: random.Random,
        kill: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """A power loss while ``path`` (relative to the data dir) was being written back.

        The file's unsynced writes reach the disk, the last of them only in part (a
        prefix whose length is drawn from ``rng``); every other unsynced change is
        dropped. ``ControlError`` (before anything happens) when ``path`` has no
        unsynced write of at least two bytes.
        """
        torn = {"path": path, "fraction": rng.random()}
        result = self._power_loss([(node_id, torn)], _for_any(kill))[0]
        return {"node": node_id, **result}

    async def apower_loss(
        self, node_id: str, kill: Callable[[], object] | None = None
    ) -> dict[str, Any]:
        """``power_loss`` from asyncio code; ``kill`` runs in a worker thread."""
        return await asyncio.to_thread(self.power_loss, node_id, kill)

    def corrupt(
        self,
        node_id: str,
        rng: random.Random,
        mode: str = "bitflip",
        *,
        path: str | None = None,
        pattern: str | None = None,
        bits: int = 1,
    ) -> dict[str, Any]:
        """Corrupt a file of a *stopped* node's durable state (chaoskit/disk/corrupt.py).

        What the node wrote before it stopped is synced first (on a real machine the
        kernel writes it back), then the backing file is corrupted, then the file system
        forgets what it had cached, so the restarted node reads the damage.
        """
        mount = self._mount(node_id)
        request(mount.control, "sync-all")
        result = corrupt_file(mount.backing, rng, mode=mode, path=path, pattern=pattern, bits=bits)
        request(mount.control, "power-loss")
        return {"node": node_id, **result}

    def status(self, node_id: str) -> dict[str, Any]:
        """Pending files, bytes and metadata operations; frozen or not; power losses so far."""
        return request(self._mount(node_id).control, "status")

    def sync_all(self, node_id: str) -> None:
        request(self._mount(node_id).control, "sync-all")

    # ------------------------------------------------------------ context manager

    def __enter__(self) -> DiskFaults:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unmount_all()

    # ------------------------------------------------------------ internals

    def _power_loss(
        self, victims: list[tuple[str, dict[str, Any] | None]], kill: Callable[[str], object]
    ) -> list[dict[str, Any]]:
        """freeze every victim, kill every one, drop, thaw (the module docstring).

        If a freeze or a kill fails, every file system frozen so far thaws and nothing is
        dropped; a closed connection thaws its file system too (the controller died).
        """
        with contextlib.ExitStack() as stack:
            frozen: list[tuple[Control, dict[str, Any]]] = []
            try:
                for node_id, torn in victims:
                    control = stack.enter_context(
                        Control(self._mount(node_id).control, name=node_id)
                    )
                    frozen.append((control, control.request("freeze", torn=torn)))
                for node_id, _ in victims:
                    kill(node_id)
            except BaseException:
                for control, _ in frozen:
                    with contextlib.suppress(SetupError):
                        control.request("thaw")
                raise
            results = [control.request("power-loss") for control, _ in frozen]
            for control, _ in frozen:
                control.request("thaw")
        for (_, torn), (_, answer), result in zip(victims, frozen, results, strict=True):
            if torn is not None and "torn" not in result:
                result["torn"] = answer.get("torn")
        return results

    def _mount(self, node_id: str) -> Mount:
        mount = self._mounts.get(node_id)
        if mount is None:
            raise ConfigError(f"node {node_id} has no fault file system")
        return mount

    def _claim_run_dir(self) -> None:
        """Create the run's working directory, marked with this process as its owner."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        owner = self.run_dir / OWNER_FILE
        if not owner.exists():
            owner.write_text(process_token() + "\n")

    def _spawn(
        self, node_id: str, backing: Path, data_dir: Path, control: str, log: IO[bytes]
    ) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env.update(
            {
                MOUNT_ENV: str(data_dir),
                "CHAOSKIT_RUN_ID": self.run_id,
                "CHAOSKIT_CONTROLLER": process_token(),
            }
        )
        argv = [self.python, "-m", "chaoskit.disk.faultfs", str(backing), str(data_dir)]
        argv += ["--control", control, "--fsname", f"{FSNAME_PREFIX}{self.run_id}-{node_id}"]
        # A session of its own: a Ctrl-C to the controller's terminal must not take the
        # file system down before the controller has unmounted it.
        return subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True, close_fds=True,
        )  # fmt: skip

    def _wait_ready(self, mount: Mount) -> None:
        """Until the control socket answers (it is bound once the mount exists)."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            if mount.process.poll() is not None:
                why = _last_line(mount.log_path)
                raise SetupError(f"fault file system of {mount.node_id} did not start: {why}")
            if os.path.exists(mount.control):
                with contextlib.suppress(SetupError):
                    request(mount.control, "ping")
                    if is_mounted(mount.data_dir):
                        return
            if time.monotonic() > deadline:
                waited = f"{self.start_timeout:.0f} s"
                raise SetupError(f"fault file system of {mount.node_id} not ready after {waited}")
            time.sleep(0.02)


def _for_any(kill: Callable[[], object] | None) -> Callable[[str], object]:
    """A one-node ``kill()`` as the per-node kill of ``_power_loss``."""
    return lambda _node: kill() if kill is not None else None


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else "no output"
