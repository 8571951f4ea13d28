"""The Clock part: lie to each node about the time, per node, while the run goes on.

A node launched with ``FaketimeClock.env_for(node)`` loads libfaketime through
``LD_PRELOAD`` and, with ``FAKETIME_NO_CACHE=1``, rereads its own timestamp file at
every time call. ``set`` and ``reset`` rewrite that file (atomically: temp + rename),
so a running process sees a new offset or rate at its next time call. It works for
any dynamically linked program: the reference nodes, a user's service, Python itself.
The controller is never preloaded, so its timeline (``RunClock``) stays true.

What a node sees after ``set(node, offset_s, rate)`` at real time ``t0``::

    node_time(t) = t0 + offset_s + (t - t0) * rate        reset(): node_time(t) = t

How that maps onto libfaketime 0.9.10 (each point checked on real processes, see
tests/clock/):

- ``rate == 1``: the relative spec ``+300.000000 x1``. libfaketime adds it to the
  start time it keeps, and with rate 1 the start time cancels out: exact, whenever
  the process started, and right for a process (re)started later.
- ``rate != 1``: libfaketime applies the rate to the time elapsed since its start
  time, so ``+0 x2`` written to a process that has run for a minute jumps it a minute
  ahead. The "start at" spec ``@<epoch> x2`` (epoch seconds, hence ``FAKETIME_FMT=%s``)
  resets the start time to the moment the process reads it, so the rate applies from
  then on. The price: a process that makes no time call for a while picks the spec
  up late and lags by that long, and a node restarted during a rate fault starts at
  the fault's anchor time.
- Threads: libfaketime 0.9.10 rereads the file into one static buffer, without a
  lock, after first filling it with ``+0``. Two threads of one process asking the
  time at once can parse that ``+0`` or a half-read spec: an offset fault then
  glitches for one call, and a rate fault re-parses its ``@`` spec and restarts from
  its anchor (the node's clock jumps back by what the rate had added). Python
  threads do ask at once (waiting for the GIL reads the monotonic clock), so rate
  faults are exact only on single-threaded nodes, as the reference nodes are; on a
  multi-threaded service treat them as "runs at about this rate, may jump back".
- ``FAKETIME_DONT_RESET`` is left unset: the ``@`` spec needs its reset.
  ``FAKETIME_XRESET`` is left unset: it keeps rate changes smooth but then ignores
  the offset of every spec that has a rate, so offsets could no longer change.
- Monotonic clocks are faked too (libfaketime's default). A real NTP step moves only
  wall time, but a clock that runs fast or slow moves both, and nodes time their
  leases and elections with monotonic clocks (asyncio's ``loop.time()``, Go): a fault
  they cannot see tests nothing. More decisive still, with
  ``FAKETIME_DONT_FAKE_MONOTONIC=1`` libfaketime 0.9.10 breaks Python's
  ``time.sleep`` (``OSError: [Errno 22]``). So under a negative bump a node's
  monotonic clock goes back; asyncio survives that (its timers fire late, it does
  not crash), which is part of the fault.
- ``NO_FAKE_STAT=1``: file timestamps stay true. Faking them rereads the timestamp
  file at every ``stat`` (Python's imports do thousands) and takes libfaketime's
  semaphore each time; a node comparing an mtime with its clock then sees the skew,
  as it would for a file written by another machine.
- libfaketime leaves ``/dev/shm/faketime_shm_<pid>`` and ``sem.faketime_sem_<pid>``
  behind for every process that is SIGKILLed or that execs; ``close`` removes the
  ones made since the clock was created whose process is gone.
- Cost: with ``FAKETIME_NO_CACHE`` every time call opens and reads the file, about
  5-8 us instead of 0.1-0.4 us for ``time.time()`` / ``time.monotonic()`` in Python.
- An inherited ``FAKETIME`` variable would win over the file: launch nodes without it.
- Offsets and rates are written with ``.`` decimals; libfaketime parses them with
  ``atof``, so a program that switches ``LC_NUMERIC`` to a comma locale would misread
  fractions.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from chaoskit.core.clock import check_setting
from chaoskit.errors import ConfigError, SetupError

#: Environment variable that names the libfaketime library to preload.
LIBRARY_ENV = "CHAOSKIT_LIBFAKETIME"
LIBRARY_NAME = "libfaketime.so.1"
#: Where distributions and ``make install`` put libfaketime, first match wins.
SEARCH_DIRS = (
    "/usr/lib/x86_64-linux-gnu/faketime",
    "/usr/lib/aarch64-linux-gnu/faketime",
    "/usr/lib/faketime",
    "/usr/local/lib/faketime",
    "/usr/lib64/faketime",
)
MISSING = "libfaketime not found: apt-get install faketime"
#: The spec every node starts from and returns to: no offset, real speed.
TRUE_SPEC = "+0.000000 x1"
SUFFIX = ".faketime"
SHM_DIR = Path("/dev/shm")


def find_libfaketime(environ: Mapping[str, str] | None = None) -> Path:
    """The libfaketime shared library on this machine; ``SetupError`` if there is none.

    ``CHAOSKIT_LIBFAKETIME`` wins when set (and must name an existing file); then the
    multiarch directory of this interpreter, then the usual install places.
    """
    env = os.environ if environ is None else environ
    override = env.get(LIBRARY_ENV)
    if override:
        path = Path(override)
        if not path.is_file():
            raise SetupError(f"{MISSING} ({LIBRARY_ENV}={override} does not exist)")
        return path
    for directory in _search_dirs():
        path = Path(directory) / LIBRARY_NAME
        if path.is_file():
            return path
    raise SetupError(MISSING)


def _search_dirs() -> list[str]:
    multiarch = getattr(sys.implementation, "_multiarch", None)
    first = [f"/usr/lib/{multiarch}/faketime"] if multiarch else []
    return first + [d for d in SEARCH_DIRS if d not in first]


def faketime_spec(offset_s: float, rate: float, now: float) -> str:
    """The libfaketime spec that makes a clock read ``now + offset_s`` and run at ``rate``.

    >>> faketime_spec(300, 1.0, now=1000.0)
    '+300.000000 x1'
    >>> faketime_spec(-5, 0.5, now=1000.0)
    '@995.000000 x0.500000'
    """
    check_setting(offset_s, rate)
    if rate == 1.0:
        return f"{offset_s:+.6f} x1"
    return f"@{now + offset_s:.6f} x{rate:.6f}"


def check_rate(rate: float) -> None:
    """A clock may run slow or fast (within ``MIN_RATE``..``MAX_RATE``), never stop or
    go backwards."""
    check_setting(0.0, rate)


def sweep_shm(since: float, shm_dir: Path = SHM_DIR) -> list[Path]:
    """Remove libfaketime's leftovers of dead processes made at or after ``since``.

    Only entries of this user whose process no longer exists: a live process, or one
    of another user, keeps its own. Returns what was removed.
    """
    removed: list[Path] = []
    for entry in shm_dir.glob("*faketime_*_*"):
        pid = _leftover_pid(entry.name)
        if pid is None or _alive(pid):
            continue
        with contextlib.suppress(OSError):
            info = entry.stat()
            if info.st_uid == os.getuid() and info.st_mtime >= since - 1.0:
                entry.unlink()
                removed.append(entry)
    return removed


def remove_shm_of(pids: Iterable[int], shm_dir: Path = SHM_DIR) -> list[Path]:
    """Remove libfaketime's leftovers of exactly these processes, once they are gone
    (``chaoskit cleanup`` after it killed a run's nodes). Returns what was removed."""
    removed: list[Path] = []
    for pid in pids:
        if _alive(pid):
            continue
        for name in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}"):
            entry = shm_dir / name
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == os.getuid():
                    entry.unlink()
                    removed.append(entry)
    return removed


def _leftover_pid(name: str) -> int | None:
    for prefix in ("faketime_shm_", "sem.faketime_sem_"):
        if name.startswith(prefix) and name[len(prefix) :].isdigit():
            return int(name[len(prefix) :])
    return None


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs. A zombie does not: the nodes of a SIGKILLed controller are
    reparented, and where nobody reaps them (a container whose init does not) they stay
    zombies, whose leftovers were never swept."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc to ask: assume it runs
    state = stat[stat.rfind(")") + 2 :][:1]
    return state not in ("Z", "X")


class FaketimeClock:
    """Per-node clock offset and rate through one libfaketime timestamp file per node.

    ``state_dir`` holds the files (``<node>.faketime``); for nodes in containers the
    runtime mounts it and passes the in-node directory to ``env_for``. ``library``
    names libfaketime as the node will see it (inside an image, say); when omitted it
    is looked up on this machine and a ``SetupError`` says how to install it.

    >>> clock = FaketimeClock(run_dir / "clock", ["n1", "n2"])   # doctest: +SKIP
    >>> launch_env = {**target_env, **clock.env_for("n1")}       # doctest: +SKIP
    >>> clock.set("n1", offset_s=30)                             # doctest: +SKIP
    """

    def __init__(
        self,
        state_dir: Path,
        nodes: Iterable[str],
        *,
        library: str | Path | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.library = str(library) if library is not None else str(find_libfaketime())
        self.state_dir = Path(state_dir)
        self._wall = wall
        self._settings: dict[str, tuple[float, float]] = {n: (0.0, 1.0) for n in nodes}
        self._serial = itertools.count()
        self._closed = False
        self._created = time.time()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        for node in self._settings:
            self._write(node, TRUE_SPEC)

    @property
    def nodes(self) -> list[str]:
        return list(self._settings)

    def path_for(self, node: str) -> Path:
        """The timestamp file of ``node`` on this machine."""
        self._known(node)
        return self.state_dir / f"{node}{SUFFIX}"

    def env_for(self, node: str, *, node_dir: str | None = None) -> dict[str, str]:
        """The environment to launch ``node`` with (merge it over the target's own).

        ``node_dir`` is where ``state_dir`` appears inside the node (a container's
        mount point); by default the node shares this machine's file system. If the
        target sets ``LD_PRELOAD`` itself, join the two with ``:``.
        """
        path = self.path_for(node)
        file = f"{node_dir.rstrip('/')}/{path.name}" if node_dir else str(path)
        return {
            "LD_PRELOAD": self.library,
            "FAKETIME_TIMESTAMP_FILE": file,
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_FMT": "%s",
            "NO_FAKE_STAT": "1",
        }

    def set(self, node: str, offset_s: float = 0.0, rate: float = 1.0) -> None:
        """From now on ``node`` reads real time + ``offset_s``, advancing at ``rate``."""
        self._known(node)
        spec = faketime_spec(float(offset_s), float(rate), self._wall())
        self._write(node, spec)
        self._settings[node] = (float(offset_s), float(rate))

    def reset(self, node: str | None = None) -> None:
        """Give ``node`` (or every node) the true time back."""
        for name in self.nodes if node is None else [node]:
            self._known(name)
            self._write(name, TRUE_SPEC)
            self._settings[name] = (0.0, 1.0)

    async def settle(self) -> None:
        """Nothing to wait for: ``set`` and ``reset`` replace the file before they return."""

    def offsets(self) -> dict[str, dict[str, float]]:
        """What each node was last told, for the fault log."""
        return {n: {"offset_s": o, "rate": r} for n, (o, r) in sorted(self._settings.items())}

    def close(self) -> None:
        """Reset every node still running, then remove the files (idempotent)."""
        if self._closed:
            return
        self.reset()
        self._closed = True
        for node in self._settings:
            (self.state_dir / f"{node}{SUFFIX}").unlink(missing_ok=True)
        for leftover in self.state_dir.glob(f".*{SUFFIX}.tmp"):
            leftover.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: someone else's files live there
            self.state_dir.rmdir()
        sweep_shm(since=self._created)

    def _known(self, node: str) -> None:
        if self._closed:
            raise SetupError("the clock was closed; no node's time can change any more")
        if node not in self._settings:
            raise ConfigError(f"the clock knows no node '{node}' (known: {', '.join(self.nodes)})")

    def _write(self, node: str, spec: str) -> None:
        """Replace the file in one step: the node rereads it at every time call."""
        final = self.state_dir / f"{node}{SUFFIX}"
        temp = self.state_dir / f".{node}.{os.getpid()}.{next(self._serial)}{SUFFIX}.tmp"
        # 0o644: a node in a container may run as another user and must read it.
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.fchmod(fd, 0o644)  # whatever the umask
            os.write(fd, (spec + "\n").encode("ascii"))
        finally:
            os.close(fd)
        os.replace(temp, final)
