"""The local runtime: every node is a child process in its own process group.

Each node gets its own session (so a signal reaches the node and anything it
forked, and Ctrl-C at the terminal reaches only the controller), its output goes
to ``logs/<node>.log``, and its environment carries ``CHAOSKIT_RUN_ID`` so that
``chaoskit cleanup`` can find what a killed controller left behind, and
``CHAOSKIT_CONTROLLER`` (the controller's process token, chaoskit/runtimes/registry.py) so that
it can tell a leftover of a dead controller from a node of a run still in progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from signal import Signals

from chaoskit.core.target import Launch, NodeInfo
from chaoskit.errors import SetupError
from chaoskit.runtimes.registry import process_token, token_alive

RUN_ID_ENV = "CHAOSKIT_RUN_ID"
CONTROLLER_ENV = "CHAOSKIT_CONTROLLER"
STOP_GRACE_S = 3.0


@dataclass
class _Node:
    info: NodeInfo
    launch: Launch
    proc: asyncio.subprocess.Process | None = None
    paused: bool = False


class LocalRuntime:
    """Start, kill, pause and restart nodes as local processes."""

    name = "local"
    image: str | None = None

    def __init__(
        self,
        run_id: str,
        log_dir: Path,
        *,
        extra_env: Callable[[str], Mapping[str, str]] | None = None,
    ) -> None:
        self.run_id = run_id
        self.log_dir = log_dir
        self._extra_env = extra_env
        self._nodes: dict[str, _Node] = {}
        self._controller = process_token()

    async def launch(self, node: NodeInfo, launch: Launch) -> None:
        self._nodes[node.id] = _Node(info=node, launch=launch)
        await self.start(node.id)

    async def start(self, node: str) -> None:
        entry = self._nodes[node]
        if entry.proc is not None and entry.proc.returncode is None:
            return
        env = dict(os.environ)
        env.update(entry.launch.env)
        if self._extra_env is not None:
            merge_env(env, self._extra_env(node))
        env[RUN_ID_ENV] = self.run_id
        env[CONTROLLER_ENV] = self._controller
        log = open(self.log_dir / f"{node}.log", "ab")  # noqa: SIM115 - handed to the child
        try:
            entry.proc = await asyncio.create_subprocess_exec(
                *entry.launch.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                cwd=entry.launch.cwd,
                env=env,
                start_new_session=True,
            )
        except OSError as exc:
            raise SetupError(
                f"cannot start node {node}: {entry.launch.argv[0]}: {exc.strerror or exc}"
            ) from exc
        finally:
            log.close()
        entry.paused = False

    async def kill(self, node: str) -> None:
        """SIGKILL the node's process group and reap it. Reaped also when the signal
        found nobody: a process already killed (a power loss signals first) may be
        gone while asyncio has not yet recorded its exit."""
        entry = self._nodes[node]
        self._signal(entry, signal.SIGKILL)
        await self._reap(entry)

    async def signal(self, node: str, sig: int) -> None:
        """Signal the node's process group; never waits (``kill`` reaps)."""
        self._signal(self._nodes[node], Signals(sig))

    async def stop(self, node: str) -> None:
        entry = self._nodes[node]
        if entry.paused:
            self._signal(entry, signal.SIGCONT)
        if not self._signal(entry, signal.SIGTERM):
            await self._reap(entry)  # gone already: wait for asyncio to record it
            return
        try:
            await asyncio.wait_for(self._reap(entry), STOP_GRACE_S)
        except TimeoutError:
            await self.kill(node)

    async def pause(self, node: str) -> None:
        entry = self._nodes[node]
        if self._signal(entry, signal.SIGSTOP):
            entry.paused = True

    async def resume(self, node: str) -> None:
        entry = self._nodes[node]
        self._signal(entry, signal.SIGCONT)
        entry.paused = False

    def is_running(self, node: str) -> bool:
        proc = self._nodes[node].proc
        return proc is not None and proc.returncode is None

    def pid(self, node: str) -> int | None:
        """The node's process id, when running (the proxy uses it to tell sources apart)."""
        proc = self._nodes[node].proc
        return proc.pid if proc is not None and proc.returncode is None else None

    async def close(self) -> None:
        """Kill every node's whole process group and reap them all; idempotent. Every
        signal goes out before the first reap, so the nodes die together."""
        killed = [entry for entry in self._nodes.values() if self._signal(entry, signal.SIGKILL)]
        if killed:
            reaps = [asyncio.create_task(self._reap(entry)) for entry in killed]
            _, pending = await asyncio.wait(reaps, timeout=STOP_GRACE_S)
            for task in pending:
                task.cancel()

    def kill_now(self) -> None:
        """SIGKILL every node's process group without waiting: the last resort when the
        controller is leaving and its asynchronous teardown could not finish."""
        for entry in self._nodes.values():
            self._signal(entry, signal.SIGKILL)

    def pids(self) -> list[int]:
        """Process ids of the nodes running now (for the registry of active runs)."""
        return [pid for pid in (self.pid(n) for n in self._nodes) if pid is not None]

    def _signal(self, entry: _Node, sig: Signals) -> bool:
        """Signal the node's process group; False when there is nothing to signal."""
        proc = entry.proc
        if proc is None or proc.returncode is not None:
            return False
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return False
        return True

    async def _reap(self, entry: _Node) -> None:
        if entry.proc is not None:
            await entry.proc.wait()
        entry.paused = False


def merge_env(env: dict[str, str], extra: Mapping[str, str]) -> None:
    """Add ``extra`` (e.g. the clock's libfaketime settings) to a node's environment.

    Preloads are joined, not replaced; an inherited ``FAKETIME`` would override the
    per-node timestamp file, so it goes when a file is given.
    """
    for key, value in extra.items():
        if key == "LD_PRELOAD" and env.get(key):
            env[key] = f"{value}:{env[key]}"
        else:
            env[key] = value
    if "FAKETIME_TIMESTAMP_FILE" in extra:
        env.pop("FAKETIME", None)


def find_leftovers(run_id: str | None = None) -> dict[int, str]:
    """Processes started by chaoskit runs still alive: pid -> run id.

    Read from ``/proc/<pid>/environ`` (the ``CHAOSKIT_RUN_ID`` marker), so it works
    after the controller was killed with SIGKILL and left no state behind. This lists
    the nodes of runs in progress too; ``find_orphans`` lists only those left behind.
    """
    return {pid: rid for pid, (rid, _) in _marked(run_id).items()}


def find_orphans(run_id: str | None = None) -> dict[int, str]:
    """Like ``find_leftovers``, but only processes whose controller is gone.

    A process without a controller token (started by an older chaoskit) counts as
    left behind: there is no way to tell, and that was the old behaviour.
    """
    return {
        pid: rid
        for pid, (rid, controller) in _marked(run_id).items()
        if controller is None or not token_alive(controller)
    }


def _marked(run_id: str | None) -> dict[int, tuple[str, str | None]]:
    """pid -> (run id, controller token or None) of every marked process."""
    found: dict[int, tuple[str, str | None]] = {}
    marker = RUN_ID_ENV.encode() + b"="
    owner = CONTROLLER_ENV.encode() + b"="
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        rid: str | None = None
        controller: str | None = None
        for var in environ.split(b"\0"):
            if var.startswith(marker):
                rid = var[len(marker) :].decode(errors="replace")
            elif var.startswith(owner):
                controller = var[len(owner) :].decode(errors="replace")
        if rid is not None and (run_id is None or rid == run_id):
            found[int(entry.name)] = (rid, controller)
    return found


def kill_leftovers(run_id: str | None = None, *, orphans_only: bool = False) -> dict[int, str]:
    """SIGKILL (after SIGCONT) every leftover process of ``run_id`` (or of any run).

    With ``orphans_only``, processes whose controller still runs are spared. Waits (a
    few seconds at most) until the killed processes are gone, so their ports are free
    when this returns.
    """
    found = find_orphans(run_id) if orphans_only else find_leftovers(run_id)
    for pid in found:
        for sig in (signal.SIGCONT, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
    _wait_gone(list(found), timeout=STOP_GRACE_S)
    return found


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if token_alive(f"{pid}:")]
        if pids:
            time.sleep(0.05)
