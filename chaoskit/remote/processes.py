"""A node's process on a host: started detached, signalled as a group, watched.

Everything a run keeps on a host lives under one directory, so that removing it
removes all of it and nothing else::

    <data_dir>/<run_id>/owner             who made it: run id, controller token, machine
    <data_dir>/<run_id>/nodes/<node>/     the node's data directory (its cwd)
    <data_dir>/<run_id>/logs/<node>.log   its output, appended across restarts
    <data_dir>/<run_id>/pids/<node>.pid   its process id (= process group = session)
    <data_dir>/<run_id>/clock/            libfaketime files (chaoskit/remote/clock.py)
    <data_dir>/<run_id>/hostclock         the host clock's true time, while stepped

A node starts through ``setsid`` in the background of a small ``sh`` script that
stays on its SSH channel and ``wait``s for it: the node leads its own session and
process group (a signal to the group reaches everything it forked, and nothing of
the SSH session), and the channel ends exactly when the node exits, so
``running`` needs no polling. Should the SSH connection be lost, the node keeps
running (its own session, output to a file), and ``cleanup`` still finds it by
the ``CHAOSKIT_RUN_ID`` in its environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import re
import shlex
import signal
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from chaoskit.errors import ConfigError, SetupError
from chaoskit.remote.ssh import SshPool, shell

if TYPE_CHECKING:
    import asyncssh

RUN_ID_ENV = "CHAOSKIT_RUN_ID"
CONTROLLER_ENV = "CHAOSKIT_CONTROLLER"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STOP_GRACE_S = 3.0
#: How long a signalled node may take to be reported gone.
EXIT_WAIT_S = 10.0
#: How long copying an exited node's log back may take.
LOG_COPY_S = 5.0


def check_run_id(run_id: str) -> str:
    """Run ids end up in paths, rule comments and environments: keep them plain."""
    if not _RUN_ID.match(run_id):
        raise ConfigError(f"run id {run_id!r} is not usable on hosts (letters, digits, ._-)")
    return run_id


@dataclass(frozen=True)
class RunPaths:
    """Where one run keeps its files on one host."""

    data_dir: str
    run_id: str

    @property
    def root(self) -> str:
        return posixpath.join(self.data_dir, self.run_id)

    @property
    def owner(self) -> str:
        return posixpath.join(self.root, "owner")

    @property
    def clock_dir(self) -> str:
        return posixpath.join(self.root, "clock")

    @property
    def host_clock(self) -> str:
        return posixpath.join(self.root, "hostclock")

    def node_dir(self, node: str) -> str:
        return posixpath.join(self.root, "nodes", node)

    def log(self, node: str) -> str:
        return posixpath.join(self.root, "logs", f"{node}.log")

    def pid(self, node: str) -> str:
        return posixpath.join(self.root, "pids", f"{node}.pid")


def machine_id() -> str:
    """This machine, as written in ``owner`` files: cleanup can judge a controller's
    token only on the machine it ran on."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        with contextlib.suppress(OSError):
            text = Path(path).read_text().strip()
            if text:
                return text
    return socket.gethostname()


async def prepare_run(pool: SshPool, host: str, paths: RunPaths, controller: str) -> None:
    """Make the run's directory on ``host`` and sign it (``owner``) before anything else."""
    owner = f"run={paths.run_id}\ncontroller={controller}\nmachine={machine_id()}\n"
    dirs = " ".join(
        shlex.quote(posixpath.join(paths.root, d)) for d in ("nodes", "logs", "pids", "clock")
    )
    script = (
        f"umask 022 && mkdir -p {dirs} && "
        f"printf %s {shlex.quote(owner)} > {shlex.quote(paths.owner)}"
    )
    await pool.run(host, shell(script))


def shm_sweep_script(paths: RunPaths) -> str:
    """Removes what libfaketime leaves in /dev/shm for each of the run's preloaded
    processes that was killed or exec'd (``faketime_shm_<pid>``, ``sem.faketime_sem_<pid>``):
    this user's entries, newer than the run's ``owner`` file, whose process is gone."""
    owner = shlex.quote(paths.owner)
    return (
        f"[ -f {owner} ] || exit 0; "
        "find /dev/shm -maxdepth 1 \\( -name 'faketime_shm_*' -o -name 'sem.faketime_sem_*' \\) "
        f'-user "$(id -u)" -newer {owner} 2>/dev/null | while read -r f; do '
        'p=${f##*_}; [ -d "/proc/$p" ] || rm -f "$f"; done; exit 0'
    )


async def remove_run_dir(pool: SshPool, host: str, paths: RunPaths) -> None:
    """Remove the run's directory on ``host`` (only ever ``<data_dir>/<run_id>``)."""
    check_run_id(paths.run_id)
    await pool.run(host, shell(shm_sweep_script(paths)))
    await pool.run(host, ["rm", "-rf", "--", paths.root])


def start_script(
    argv: Sequence[str], env: Mapping[str, str], node_dir: str, log: str, pid: str
) -> str:
    """The ``sh`` script that starts ``argv`` detached and waits for it (see module doc).

    Every value is quoted; ``argv`` is never parsed by a shell.
    """
    if not argv:
        raise ConfigError("the target gave an empty command line")
    for name in env:
        if not _ENV_NAME.match(name):
            raise ConfigError(f"environment variable name {name!r} cannot be passed to a host")
    q = shlex.quote
    exports = " ".join(f"{name}={q(value)}" for name, value in env.items())
    lines = [
        f"mkdir -p {q(node_dir)} && cd {q(node_dir)} || exit 1",
        f"command -v {q(argv[0])} >/dev/null 2>&1 || "
        f'{{ echo "chaoskit: command not found: "{q(argv[0])} >&2; exit 127; }}',
        *([f"export {exports}"] if exports else []),
        f"setsid {shlex.join(argv)} </dev/null >>{q(log)} 2>&1 &",
        "child=$!",
        f'echo "$child" > {q(pid)}',
        'echo "started $child"',
        'wait "$child"',
        'echo "exited $?"',
    ]
    return "\n".join(lines)


def adopt_script(pid: int, run_id: str) -> str:
    """Watch a node started earlier (``started <pid>`` ... ``exited``), or say ``gone``
    when no live process of the run has that pid (it ended, or the pid was reused)."""
    marker = shlex.quote(f"{RUN_ID_ENV}={check_run_id(run_id)}")
    alive = (
        f"[ -d /proc/{pid} ] && ! grep -qs '^[0-9]* (.*) Z' /proc/{pid}/stat "
        f"&& tr '\\000' '\\n' < /proc/{pid}/environ 2>/dev/null | grep -qx {marker}"
    )
    return (
        f"{alive} || {{ echo gone; exit 0; }}\n"
        f'echo "started {pid}"\n'
        f"while {alive}; do sleep 0.2; done\n"
        'echo "exited"'
    )


class RemoteNode:
    """One node's process on one host, started and signalled over the pool."""

    def __init__(
        self, pool: SshPool, host: str, node: str, paths: RunPaths, log_copy: Path | None = None
    ) -> None:
        self.pool = pool
        self.host = host
        self.node = node
        self.paths = paths
        #: The log is copied here whenever the node exits: why it died is then known here.
        self.log_copy = log_copy
        self.pid: int | None = None
        self.paused = False
        self._watch: asyncio.Task[None] | None = None
        self._exited = asyncio.Event()
        self._exited.set()

    @property
    def running(self) -> bool:
        """True from a successful start until the host reports the process gone."""
        return not self._exited.is_set()

    async def start(self, argv: Sequence[str], env: Mapping[str, str]) -> None:
        """Start the node unless it runs; ``SetupError`` with the host's reason if it
        cannot be started (a missing command, an unwritable directory)."""
        if self.running:
            return
        if self.pid is not None:
            # The watch may have ended with a lost connection while the node lives on:
            # watch it again rather than start a second copy.
            script = adopt_script(self.pid, self.paths.run_id)
        else:
            script = start_script(
                argv,
                env,
                self.paths.node_dir(self.node),
                self.paths.log(self.node),
                self.paths.pid(self.node),
            )
        proc = await self.pool.open_process(self.host, shell(script))
        limit = self.pool.host(self.host).command_timeout
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), limit)
        except TimeoutError as exc:
            proc.close()
            raise SetupError(
                f"host {self.host}: starting node {self.node} timed out after {limit:g} s"
            ) from exc
        if line.startswith("gone") and self.pid is not None:
            proc.close()
            self.pid = None
            await self.start(argv, env)
            return
        if not line.startswith("started "):
            error = (await _finish(proc)).strip().splitlines()
            reason = error[-1] if error else "no output"
            proc.close()
            if "command not found: " in reason:
                missing = reason.split("command not found: ", 1)[1]
                raise SetupError(
                    f"host {self.host}: cannot start node {self.node}: "
                    f"command '{missing}' not found on the host"
                )
            raise SetupError(f"host {self.host}: cannot start node {self.node}: {reason}")
        self.pid = int(line.split()[1])
        self.paused = False
        self._exited = asyncio.Event()
        self._watch = asyncio.create_task(self._follow(proc), name=f"watch-{self.node}")

    async def _follow(self, proc: asyncssh.SSHClientProcess[str]) -> None:
        """Until the script says the node exited (or the channel is gone); then its log
        is copied back (bounded: a lost connection must not hold the exit up)."""
        try:
            await proc.wait_closed()
            if self.log_copy is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.fetch_log(self.log_copy), LOG_COPY_S)
        except Exception:  # noqa: BLE001 - a lost channel ends the watch all the same
            pass
        finally:
            proc.close()
            self._exited.set()

    async def signal(self, sig: signal.Signals) -> bool:
        """Send ``sig`` to the node's process group; False when there is none."""
        if self.pid is None or not self.running:
            return False
        name = sig.name.removeprefix("SIG")
        result = await self.pool.run(
            self.host, ["kill", "-s", name, "--", f"-{self.pid}"], check=False
        )
        return result.exit_status == 0

    async def wait_exit(self, timeout: float) -> bool:
        """True once the node is gone (within ``timeout`` seconds)."""
        try:
            await asyncio.wait_for(self._exited.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def kill(self) -> None:
        """SIGKILL the group and wait until the host reports the node gone."""
        if await self.signal(signal.SIGKILL):
            await self.wait_exit(EXIT_WAIT_S)
        self.paused = False

    async def stop(self, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM (after SIGCONT if paused), then SIGKILL after ``grace`` seconds."""
        if self.paused:
            await self.signal(signal.SIGCONT)
        if await self.signal(signal.SIGTERM) and not await self.wait_exit(grace):
            await self.kill()
        self.paused = False

    async def pause(self) -> None:
        if await self.signal(signal.SIGSTOP):
            self.paused = True

    async def resume(self) -> None:
        await self.signal(signal.SIGCONT)
        self.paused = False

    async def fetch_log(self, dest: Path) -> None:
        """Copy the node's log on the host to ``dest`` (the run's ``logs/<node>.log``)."""
        log = shlex.quote(self.paths.log(self.node))
        result = await self.pool.run(
            self.host, shell(f"[ ! -f {log} ] || cat {log}"), check=False, timeout=60.0
        )
        if result.exit_status == 0:
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(result.stdout)

    async def forget(self) -> None:
        """Stop watching (the process is gone or will be killed by someone else)."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watch
        self._exited.set()


async def _finish(proc: asyncssh.SSHClientProcess[str]) -> str:
    """The stderr of a start script that gave up (it exits at once)."""
    with contextlib.suppress(Exception):
        done = await asyncio.wait_for(proc.wait(), 5.0)
        return str(done.stderr or "")
    return ""


# -- what runs left on a host: marked processes and run directories ---------------------


@dataclass(frozen=True)
class Marked:
    """A process on a host whose environment names a chaoskit run."""

    pid: int
    run_id: str
    controller: str


def marked_script(run_id: str | None) -> str:
    """Lists ``<pid> <run id> <controller>`` of every process carrying the run marker
    (every run's, or ``run_id``'s), read from ``/proc/<pid>/environ``."""
    want = "" if run_id is None else shlex.quote(check_run_id(run_id))
    return "\n".join(
        [
            "for f in /proc/[0-9]*/environ; do",
            "  p=${f#/proc/}; p=${p%/environ}",
            '  [ "$p" = "$$" ] && continue',
            f'  r=$(tr "\\000" "\\n" < "$f" 2>/dev/null | sed -n "s/^{RUN_ID_ENV}=//p")',
            '  [ -n "$r" ] || continue',
            *([f'  [ "$r" = {want} ] || continue'] if want else []),
            f'  c=$(tr "\\000" "\\n" < "$f" 2>/dev/null | sed -n "s/^{CONTROLLER_ENV}=//p")',
            '  echo "$p $r ${c:--}"',
            "done",
            "exit 0",
        ]
    )


async def marked_processes(pool: SshPool, host: str, run_id: str | None = None) -> list[Marked]:
    result = await pool.run(host, shell(marked_script(run_id)))
    found = []
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].isdigit():
            found.append(Marked(int(parts[0]), parts[1], parts[2]))
    return found


async def kill_processes(pool: SshPool, host: str, pids: list[int]) -> None:
    """SIGCONT then SIGKILL each of ``pids`` and wait (5 s at most) until they are gone."""
    if not pids:
        return
    listed = " ".join(str(p) for p in pids)
    script = (
        f"for p in {listed}; do kill -s CONT $p 2>/dev/null; kill -s KILL $p 2>/dev/null; done; "
        "i=0; while [ $i -lt 50 ]; do left=; "
        f"for p in {listed}; do [ -d /proc/$p ] && left=1; done; "
        '[ -z "$left" ] && exit 0; i=$((i+1)); sleep 0.1; done; exit 1'
    )
    result = await pool.run(host, shell(script), check=False)
    if result.exit_status != 0:
        raise SetupError(f"host {host}: processes {listed} survived SIGKILL")


@dataclass(frozen=True)
class RunDir:
    """A run directory found on a host, with what its ``owner`` file says."""

    run_id: str
    controller: str
    machine: str


def run_dirs_script(data_dir: str) -> str:
    base = shlex.quote(data_dir)
    return (
        f'[ -d {base} ] || exit 0; for o in {base}/*/owner; do [ -f "$o" ] || continue; '
        'printf "%s\\n" "== $o"; cat "$o"; echo; done; exit 0'
    )


async def run_dirs(pool: SshPool, host: str) -> list[RunDir]:
    """The run directories under the host's data dir (those with an ``owner`` file)."""
    result = await pool.run(host, shell(run_dirs_script(pool.host(host).data_dir)))
    found = []
    for block in result.stdout.split("== ")[1:]:
        fields = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        run_id = fields.get("run", "")
        # Only a directory named after the run it says it holds is ever removed.
        named = posixpath.basename(posixpath.dirname(block.splitlines()[0].strip()))
        if _RUN_ID.match(run_id) and named == run_id:
            found.append(RunDir(run_id, fields.get("controller", ""), fields.get("machine", "")))
    return found
