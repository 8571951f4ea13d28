"""``cleanup_inventory``: remove what runs left on the hosts of an inventory.

What a run leaves on a host is found on the host itself, so this works after the
controller was killed with SIGKILL and left no state anywhere:

- processes whose environment carries ``CHAOSKIT_RUN_ID`` (and the controller's
  token, ``CHAOSKIT_CONTROLLER``);
- iptables rules whose comment is ``chaoskit:<run_id>:...``;
- the run's directory ``<data_dir>/<run_id>`` with its ``owner`` file (run id,
  controller token, the controller's machine), its logs and clock files, a
  ``hostclock`` record while the host clock is stepped, ``tc-<device>`` marks while
  a netem qdisc of the run is installed.

With a run id, that run is cleaned whatever its state. Without one, a run is
cleaned only when its controller is known to be gone: its owner file names this
machine and the token is dead, or (no owner file) the registry of active runs and
the processes' tokens name no live controller here. A run whose owner file names
another machine is left alone and reported: only a run id clears it.

Order on each host: processes (a node must not see its clock jump back while it
still runs), netem qdiscs, rules, the host clock, then the directory.
"""

from __future__ import annotations

import asyncio
import posixpath
import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from chaoskit.errors import ChaoskitError
from chaoskit.remote import iptables, processes
from chaoskit.remote.clock import restore_host_clocks
from chaoskit.remote.inventory import Inventory, load_inventory
from chaoskit.remote.processes import RunPaths
from chaoskit.remote.ssh import SshPool, shell
from chaoskit.runtimes.registry import ActiveRun, token_alive
from chaoskit.runtimes.registry import read as read_registered


@dataclass
class _Survey:
    """What one host holds, per run id."""

    dirs: dict[str, processes.RunDir] = field(default_factory=dict)
    procs: dict[str, list[processes.Marked]] = field(default_factory=dict)
    rules: dict[str, list[iptables.ListedRule]] = field(default_factory=dict)

    def run_ids(self) -> set[str]:
        return set(self.dirs) | set(self.procs) | set(self.rules)


def cleanup_inventory(path: Path, run_id: str | None = None) -> list[str]:
    """``chaoskit cleanup --inventory FILE [--run-id ID]``: one line per thing removed;
    a host that could not be cleaned is a line starting with ``could not clean``."""
    return asyncio.run(cleanup_hosts(load_inventory(path), run_id))


def cleanup_registered(run: ActiveRun) -> tuple[list[str], bool]:
    """The hosts of a registered ssh run that ``chaoskit cleanup`` is cleaning (its
    controller is gone, or the user named it): everything of that run id on every host
    of its inventory. Returns the lines and whether every host was cleaned."""
    assert run.inventory is not None
    try:
        inventory = load_inventory(Path(run.inventory), table=run.inventory_table)
        lines = asyncio.run(cleanup_hosts(inventory, run.run_id))
    except ChaoskitError as exc:
        return [f"could not clean the hosts of run {run.run_id}: {exc}"], False
    return lines, not any(failed(line) for line in lines)


def failed(line: str) -> bool:
    """A line of a host that could not be cleaned (the command then exits 2)."""
    return line.startswith("could not clean")


async def cleanup_hosts(inventory: Inventory, run_id: str | None = None) -> list[str]:
    """Clean every host of ``inventory``; a host that cannot be reached is a line too."""
    if run_id is not None:
        processes.check_run_id(run_id)
    pool = SshPool(inventory.hosts)
    try:
        results = await asyncio.gather(
            *(_clean_host(pool, h.name, run_id) for h in inventory.hosts),
            return_exceptions=True,
        )
    finally:
        await pool.close()
    lines: list[str] = []
    for host, result in zip(inventory.hosts, results, strict=True):
        if isinstance(result, ChaoskitError):
            lines.append(f"could not clean host {host.name}: {result}")
        elif isinstance(result, BaseException):
            raise result
        else:
            lines += result
    if not any(line.startswith(("killed", "removed", "restored")) for line in lines):
        lines.append("nothing left behind on the hosts")
    return lines


async def survey(pool: SshPool, host: str, run_id: str | None = None) -> _Survey:
    """Everything of ``run_id`` (or of every run) on ``host``."""
    found = _Survey()
    for run_dir in await processes.run_dirs(pool, host):
        if run_id is None or run_dir.run_id == run_id:
            found.dirs[run_dir.run_id] = run_dir
    for proc in await processes.marked_processes(pool, host, run_id):
        found.procs.setdefault(proc.run_id, []).append(proc)
    for rule in await iptables.listed(pool, host):
        if run_id is None or rule.run_id == run_id:
            found.rules.setdefault(rule.run_id, []).append(rule)
    return found


async def _clean_host(pool: SshPool, host: str, run_id: str | None) -> list[str]:
    found = await survey(pool, host, run_id)
    lines: list[str] = []
    for rid in sorted(found.run_ids()):
        spared = None if run_id is not None else _spared(found, rid)
        if spared:
            lines.append(f"left run {rid} on host {host}: {spared}")
            continue
        lines += await clean_run(pool, host, rid, found)
    return lines


def _spared(found: _Survey, rid: str) -> str | None:
    """Why run ``rid`` must be left alone (its controller may live), or None."""
    owner = found.dirs.get(rid)
    if owner is not None:
        if owner.machine != processes.machine_id():
            return "its controller ran on another machine (give its run id to clean it)"
        return "its controller is still running" if token_alive(owner.controller) else None
    registered = read_registered(rid)
    if registered is not None and token_alive(registered.controller):
        return "its controller is still running"
    if any(token_alive(p.controller) for p in found.procs.get(rid, []) if p.controller != "-"):
        return "its controller is still running"
    return None


async def clean_run(pool: SshPool, host: str, rid: str, found: _Survey) -> list[str]:
    """Remove everything of run ``rid`` on ``host``; one line per thing."""
    lines: list[str] = []
    paths = RunPaths(pool.host(host).data_dir, rid)
    procs = found.procs.get(rid, [])
    await processes.kill_processes(pool, host, [p.pid for p in procs])
    lines += [f"killed process {p.pid} of run {rid} on host {host}" for p in procs]
    lines += await _remove_qdiscs(pool, host, paths)
    for rule in found.rules.get(rid, []):
        result = await pool.run(host, rule.delete(), sudo=True, check=False)
        if result.exit_status == 0:
            lines.append(f"removed {rule.binary} rule of run {rid} on host {host}")
    lines += await restore_host_clocks(pool, [host], paths)
    if rid in found.dirs:
        await processes.remove_run_dir(pool, host, paths)
        lines.append(f"removed {paths.root} on host {host}")
    return lines


async def _remove_qdiscs(pool: SshPool, host: str, paths: RunPaths) -> list[str]:
    """Delete the netem qdiscs the run's ``tc-<device>`` marks name."""
    root = shlex.quote(paths.root)
    listing = await pool.run(
        host, shell(f'for m in {root}/tc-*; do [ -f "$m" ] && echo "${{m##*/tc-}}"; done; true')
    )
    lines = []
    for device in _words(listing.stdout.splitlines()):
        await pool.run(
            host, shell(f"tc qdisc del dev {shlex.quote(device)} root 2>/dev/null; true"), sudo=True
        )
        await pool.run(host, ["rm", "-f", posixpath.join(paths.root, f"tc-{device}")])
        lines.append(f"removed the netem qdisc of run {paths.run_id} on {device} of host {host}")
    return lines


def _words(lines: Iterable[str]) -> list[str]:
    return [line.strip() for line in lines if line.strip() and " " not in line.strip()]
