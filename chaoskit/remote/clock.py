"""Clock faults on hosts: per-node libfaketime files, and (opted in) the host clock.

Per node, as on the local runtime (chaoskit/clock/faketime.py explains libfaketime): the
node is launched with ``LD_PRELOAD`` of the host's libfaketime and its own
timestamp file under the run's ``clock/`` directory on the host, reread at every
time call. ``set`` and ``reset`` are synchronous in the Clock protocol and the
clock-strobe nemesis calls them every few milliseconds, so they never wait for the
network: each host has one *writer*, a small ``sh`` loop on a long-lived SSH
channel, and ``set`` writes one line to it. The writer replaces the file
atomically (temp + rename) and acknowledges; lines are applied in order, about one
round trip later, and ``sync()`` waits for every acknowledgement.

A rate fault's spec names an absolute time (``@<epoch> x<rate>``): the writer's
host may keep another time than the controller, so each host's difference is
measured at set-up and the spec is written in the host's time.

The host clock (``host_clock = true`` in the inventory, for services that read the
time without libc or that cannot be preloaded): ``set`` then steps the whole
host's clock with ``date -s``. Before the first step the writer records the true
time against the boot clock (``/proc/uptime``, which ``date -s`` does not move) in
``<run>/hostclock``; every step and the restore are computed from that record, so
the true time comes back exactly (to the boot clock's 10 ms), however many steps
were made and even after the controller was killed: ``cleanup_inventory`` restores
from the same file. Only offsets: a host clock cannot run at another rate.
A host running NTP will fight the steps; stop it for the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import shlex
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from chaoskit.clock.faketime import LIBRARY_NAME, SEARCH_DIRS, TRUE_SPEC, check_rate, faketime_spec
from chaoskit.errors import ConfigError, SetupError
from chaoskit.remote.processes import RunPaths
from chaoskit.remote.ssh import SshPool, shell

if TYPE_CHECKING:
    import asyncssh

SUFFIX = ".faketime"
SYNC_TIMEOUT_S = 10.0


def writer_script(clock_dir: str, host_clock: str, sudo: bool) -> str:
    """The writer loop: ``F <node> <spec>`` rewrites a node's file, ``H <offset>`` steps
    the host clock to true time + offset, ``R`` restores it; one ``ok``/``fail`` each."""
    su = "sudo -n " if sudo else ""
    ref = shlex.quote(host_clock)
    return "\n".join(
        [
            f"cd {shlex.quote(clock_dir)} || exit 1",
            "step() {",
            f"  [ -f {ref} ] || {{ printf '%s %s\\n' \"$(cut -d' ' -f1 /proc/uptime)\" "
            f'"$(date +%s.%N)" > {ref}.tmp && mv -f {ref}.tmp {ref}; }} || return 1',
            f"  read up0 rt0 < {ref} || return 1",
            "  up=$(cut -d' ' -f1 /proc/uptime)",
            '  at=$(awk -v a="$rt0" -v u="$up" -v u0="$up0" -v o="$1" '
            "'BEGIN { printf \"%.6f\", a + (u - u0) + o }')",
            f'  {su}date -s "@$at" >/dev/null',
            "}",
            "while read -r cmd a b; do",
            '  case "$cmd" in',
            '    F) printf \'%s\\n\' "$b" > ".$a.tmp" && mv -f ".$a.tmp" "$a'
            + SUFFIX
            + '" && echo ok || echo fail ;;',
            '    H) step "$a" && echo ok || echo fail ;;',
            f"    R) if [ -f {ref} ]; then step 0 && rm -f {ref} && echo ok || echo fail; "
            "else echo ok; fi ;;",
            "    *) echo fail ;;",
            "  esac",
            "done",
        ]
    )


def restore_script(host_clock: str, sudo: bool) -> str:
    """Put the host clock back from the record a (maybe killed) run left; then forget it."""
    ref = shlex.quote(host_clock)
    su = "sudo -n " if sudo else ""
    return (
        f"[ -f {ref} ] || exit 0; read up0 rt0 < {ref} || exit 1; "
        "up=$(cut -d' ' -f1 /proc/uptime); "
        'at=$(awk -v a="$rt0" -v u="$up" -v u0="$up0" '
        "'BEGIN { printf \"%.6f\", a + (u - u0) }'); "
        f'{su}date -s "@$at" >/dev/null && rm -f {ref}'
    )


def find_library_script(preferred: str) -> str:
    candidates = [preferred] if preferred else []
    candidates += [f"{d}/{LIBRARY_NAME}" for d in SEARCH_DIRS]
    quoted = " ".join(shlex.quote(c) for c in candidates)
    return (
        f"for p in {quoted} /usr/lib/*/faketime/{LIBRARY_NAME}; do "
        '[ -f "$p" ] && { echo "$p"; exit 0; }; done; exit 3'
    )


class _Writer:
    """One host's writer channel and its acknowledgements."""

    def __init__(self, host: str, proc: asyncssh.SSHClientProcess[str]) -> None:
        self.host = host
        self.proc = proc
        self.sent = 0
        self.acked = 0
        self.failed = 0
        self.changed = asyncio.Event()
        self.task = asyncio.create_task(self._read(), name=f"clock-writer-{host}")

    def send(self, line: str) -> None:
        if self.proc.stdin.is_closing() or self.task.done():
            raise SetupError(f"host {self.host}: the clock writer is gone (SSH connection lost?)")
        self.proc.stdin.write(line + "\n")
        self.sent += 1

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for line in self.proc.stdout:
                self.acked += 1
                if line.strip() != "ok":
                    self.failed += 1
                self.changed.set()
        self.changed.set()

    async def sync(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.acked < self.sent:
            if self.task.done():
                raise SetupError(f"host {self.host}: the clock writer is gone")
            self.changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SetupError(f"host {self.host}: clock changes not applied in {timeout:g} s")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        if self.failed:
            raise SetupError(f"host {self.host}: {self.failed} clock change(s) failed")

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.proc.stdin.write_eof()
        self.proc.close()


class SshClock:
    """Per-node clock offset and rate on SSH hosts (the Clock protocol), or host clocks.

    ``placement`` maps node id to host name; ``paths`` each host to the run's paths.
    ``host_clock``: step hosts' clocks instead of preloading libfaketime (every host
    must allow it in the inventory).
    """

    def __init__(
        self,
        pool: SshPool,
        placement: Mapping[str, str],
        paths: Mapping[str, RunPaths],
        *,
        host_clock: bool = False,
    ) -> None:
        self.pool = pool
        self.placement = dict(placement)
        self.paths = dict(paths)
        self.host_clock = host_clock
        self._library: dict[str, str] = {}
        self._delta: dict[str, float] = {}
        self._writers: dict[str, _Writer] = {}
        self._settings: dict[str, tuple[float, float]] = {n: (0.0, 1.0) for n in self.placement}
        self._closed = False
        if host_clock:
            refused = [h for h in self.hosts if not pool.host(h).host_clock]
            if refused:
                raise ConfigError(
                    f"host clock faults need host_clock = true for host(s) {', '.join(refused)}"
                )

    @property
    def hosts(self) -> list[str]:
        return sorted(set(self.placement.values()))

    @property
    def nodes(self) -> list[str]:
        return list(self.placement)

    async def setup(self) -> None:
        """Find libfaketime (per-node mode), measure each host's time, start the writers,
        and give every node its true-time file before any node starts."""
        await asyncio.gather(*(self._setup_host(h) for h in self.hosts))
        if not self.host_clock:
            for node in self.placement:
                self._write(node, TRUE_SPEC)
        await self.sync()

    async def _setup_host(self, host: str) -> None:
        entry = self.pool.host(host)
        if self.host_clock:
            await self.pool.require(host, ["date", "awk"])
            # sudo -n true: a sudo that wants a password fails here, not mid-run.
            await self.pool.run(host, ["true"], sudo=True)
        else:
            found = await self.pool.run(
                host, shell(find_library_script(entry.libfaketime)), check=False
            )
            if found.exit_status != 0:
                raise SetupError(
                    f"host {host}: libfaketime not found (apt-get install libfaketime, "
                    "or set libfaketime in the inventory)"
                )
            self._library[host] = found.stdout.strip().splitlines()[0]
        before = time.time()
        result = await self.pool.run(host, ["date", "+%s.%N"])
        after = time.time()
        try:
            self._delta[host] = float(result.stdout.strip()) - (before + after) / 2
        except ValueError as exc:
            raise SetupError(f"host {host}: `date +%s.%N` gave {result.stdout.strip()!r}") from exc
        paths = self.paths[host]
        sudo = entry.sudo and entry.user != "root"
        proc = await self.pool.open_process(
            host, shell(writer_script(paths.clock_dir, paths.host_clock, sudo))
        )
        self._writers[host] = _Writer(host, proc)

    def path_for(self, node: str) -> str:
        """The node's timestamp file on its host."""
        self._known(node)
        return posixpath.join(self.paths[self.placement[node]].clock_dir, f"{node}{SUFFIX}")

    def env_for(self, node: str, *, node_dir: str | None = None) -> dict[str, str]:
        """The environment that makes ``node`` read its own file (none for host clocks).
        ``node_dir`` (the Clock protocol's, for containers) does not apply: a node sees
        its host's file system."""
        if self.host_clock:
            return {}
        host = self.placement[node]
        if host not in self._library:
            raise SetupError("the clock was not set up (await SshClock.setup() first)")
        return {
            "LD_PRELOAD": self._library[host],
            "FAKETIME_TIMESTAMP_FILE": self.path_for(node),
            "FAKETIME_NO_CACHE": "1",
            "FAKETIME_FMT": "%s",
            "NO_FAKE_STAT": "1",
        }

    def set(self, node: str, offset_s: float = 0.0, rate: float = 1.0) -> None:
        """From now on ``node`` reads true time + ``offset_s``, advancing at ``rate``
        (applied about one round trip later; ``await sync()`` to be sure)."""
        self._known(node)
        offset_s, rate = float(offset_s), float(rate)
        check_rate(rate)
        host = self.placement[node]
        if self.host_clock:
            if rate != 1.0:
                raise ConfigError("a host clock can be stepped, not made to run at another rate")
            self._writers[host].send(f"H {offset_s:.6f}")
        else:
            self._write(node, faketime_spec(offset_s, rate, time.time() + self._delta[host]))
        self._settings[node] = (offset_s, rate)

    def reset(self, node: str | None = None) -> None:
        """Give ``node`` (or every node) the true time back."""
        for name in self.nodes if node is None else [node]:
            self._known(name)
            if self.host_clock:
                self._writers[self.placement[name]].send("R")
            else:
                self._write(name, TRUE_SPEC)
            self._settings[name] = (0.0, 1.0)

    def offsets(self) -> dict[str, dict[str, float]]:
        return {n: {"offset_s": o, "rate": r} for n, (o, r) in sorted(self._settings.items())}

    async def sync(self, timeout: float = SYNC_TIMEOUT_S) -> None:
        """Wait until every change sent so far is applied on its host."""
        await asyncio.gather(*(w.sync(timeout) for w in self._writers.values()))

    async def settle(self) -> None:
        """The Clock protocol's wait: every change sent so far applied on its host."""
        await self.sync()

    def close(self) -> None:
        """Reset every node and end the writers (synchronous, as the controller calls it);
        the files go with the run's directory. ``aclose`` also waits for the resets."""
        if self._closed:
            return
        with contextlib.suppress(SetupError):
            self.reset()
        self._closed = True
        for writer in self._writers.values():
            writer.close()

    async def aclose(self) -> None:
        """Reset every node, wait until the hosts applied it, end the writers."""
        if not self._closed:
            with contextlib.suppress(SetupError):
                self.reset()
                await self.sync()
        self.close()
        for writer in self._writers.values():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.task, 5.0)

    def _known(self, node: str) -> None:
        if self._closed:
            raise SetupError("the clock was closed; no node's time can change any more")
        if node not in self.placement:
            raise ConfigError(f"the clock knows no node '{node}' (known: {', '.join(self.nodes)})")

    def _write(self, node: str, spec: str) -> None:
        self._writers[self.placement[node]].send(f"F {node} {spec}")


async def restore_host_clocks(pool: SshPool, hosts: Iterable[str], paths: RunPaths) -> list[str]:
    """Restore every host clock a run stepped (its ``hostclock`` record); one line each."""
    lines = []
    for host in hosts:
        entry = pool.host(host)
        sudo = entry.sudo and entry.user != "root"
        check = await pool.run(host, ["test", "-f", paths.host_clock], check=False)
        if check.exit_status != 0:
            continue
        await pool.run(host, shell(restore_script(paths.host_clock, sudo)))
        lines.append(f"restored the clock of host {host} (run {paths.run_id})")
    return lines
