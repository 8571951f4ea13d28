"""``chaoskit cleanup``: remove what killed runs left behind.

Three sources say what a run holds, and nothing without their marks is touched:

- local node processes carry ``CHAOSKIT_RUN_ID`` (and their controller's token) in
  their environment, read through ``/proc``;
- Docker containers and networks carry the ``chaoskit.run`` label;
- the registry of active runs (chaoskit/runtimes/registry.py) names the rest: proxies on an
  external Toxiproxy, libfaketime files, the run directory, and the inventory of an
  ssh run, whose hosts the caller's ``remote`` function cleans (chaoskit/remote/cleanup.py:
  this layer does not reach other machines itself).

Without ``--run-id`` only runs whose controller is gone are cleaned, so a run in
progress on the same machine is never disturbed; with it, that run is cleaned
whatever its state. A cleaned run's ``config.json`` is marked ``abandoned`` (and not
finished), so ``chaoskit check`` reports it as incomplete.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from chaoskit.clock.faketime import remove_shm_of, sweep_shm
from chaoskit.errors import ChaoskitError, ProxyError
from chaoskit.proxy import ProxyClient
from chaoskit.runtimes.local import find_orphans, kill_leftovers
from chaoskit.runtimes.registry import (
    ActiveRun,
    check_run_id,
    orphaned,
    read,
    read_all,
    token_alive,
    unregister,
)
from chaoskit.store.files import parse_json, read_text
from chaoskit.store.rundir import CONFIG, write_json

PROXY_TIMEOUT_S = 5.0


#: Cleans the hosts of a registered ssh run: the lines to print, and whether every host
#: was cleaned (else the run stays registered for a later cleanup).
RemoteCleanup = Callable[[ActiveRun], tuple[list[str], bool]]


def cleanup_leftovers(
    run_id: str | None = None,
    *,
    remote: RemoteCleanup | None = None,
    also: Sequence[Callable[[str | None], list[str]]] = (),
) -> list[str]:
    """Remove what ``run_id`` (or every run whose controller is gone) left; one line each.

    ``remote`` cleans the hosts of registered ssh runs (without it they stay
    registered); ``also``: cleaners of higher layers (the fault file systems of
    chaoskit.disk), run last, once the nodes and containers that used their mounts
    are gone.
    """
    if run_id is not None:
        check_run_id(run_id)  # never a path: it names a registry file
    killed = kill_leftovers(run_id, orphans_only=run_id is None)
    lines = [f"killed process {pid} of run {rid}" for pid, rid in sorted(killed.items())]
    # libfaketime's shared memory of the nodes just killed (they are gone: waited for).
    lines += [f"removed {path}" for path in remove_shm_of(killed)]
    runs = _registered(run_id)
    for run in runs:
        lines += _clean_registered(run, forget=run_id is not None, remote=remote)
    docker = _clean_docker(run_id, alive={r.run_id for r in _live_runs(run_id)})
    for clean in also:
        lines += clean(run_id)
    removed = lines + [line for line in docker if line.startswith("removed")]
    lines += docker
    if not removed:
        lines.append("nothing left behind")
    return lines


def leftover_warning() -> str | None:
    """A one-line warning when earlier runs left processes or unfinished runs behind."""
    found = find_orphans()
    runs = {r.run_id for r in orphaned()}
    if not found and not runs:
        return None
    names = ", ".join(sorted(set(found.values()) | runs))
    parts = []
    if found:
        parts.append(f"{len(found)} process(es)")
    if runs:
        parts.append(f"{len(runs)} run(s) that did not clean up")
    return f"{' and '.join(parts)} left by earlier run(s) {names}: run `chaoskit cleanup`"


def _registered(run_id: str | None) -> list[ActiveRun]:
    if run_id is None:
        return orphaned()
    run = read(run_id)
    return [run] if run is not None else []


def _live_runs(run_id: str | None) -> list[ActiveRun]:
    """Registered runs still in progress (spared when no run id is given)."""
    if run_id is not None:
        return []
    return [r for r in read_all() if token_alive(r.controller)]


def _clean_registered(
    run: ActiveRun, *, forget: bool, remote: RemoteCleanup | None = None
) -> list[str]:
    """Proxies, clock files, the hosts (ssh) and the run dir of one registered run; then
    forget it.

    A run whose proxy or hosts do not answer stays registered (a later cleanup
    retries), unless ``forget`` (the user named the run): then it goes anyway.
    """
    lines: list[str] = []
    complete = True
    if run.inventory:
        hosts, complete = remote(run) if remote is not None else ([], False)
        lines += hosts
        if not complete and not forget:
            lines.append(f"run {run.run_id} kept for a later cleanup of its hosts")
    if run.proxy_url:
        # Only the run's own names (``ck-<run id>-``), whatever prefix the entry gives.
        removed, ok = remove_proxies(run.proxy_url, f"ck-{run.run_id}-")
        reset, reset_ok = reset_proxies(run.proxy_url, run.proxy_reset)
        lines += removed + reset
        complete = complete and ok and reset_ok
        if not (ok and reset_ok):
            kept = "forgotten" if forget else "kept for a later cleanup"
            lines.append(f"proxy at {run.proxy_url} not reachable: run {run.run_id} {kept}")
    if owns_run_dir(run):
        lines += _remove_clock_files(run)
        if mark_abandoned(Path(run.run_dir)):
            lines.append(f"marked run {run.run_dir} abandoned (incomplete)")
    else:
        lines.append(
            f"registry entry of run {run.run_id} names {run.run_dir}, which is not that "
            "run's directory: its files are left alone"
        )
    lines += _sweep_shm(run)
    if complete or forget:
        unregister(run.run_id)
    return lines


def remove_proxies(url: str, prefix: str) -> tuple[list[str], bool]:
    """Delete every proxy named ``prefix...`` on the Toxiproxy API at ``url``.

    Deleting (not just enabling) also drops its toxics and frees its listen port.
    Returns the lines to print and whether the API answered.
    """
    if not prefix:
        return [], True
    return asyncio.run(_on_proxy(url, lambda client: _remove(client, url, prefix)))


def reset_proxies(url: str, names: list[str]) -> tuple[list[str], bool]:
    """Enable ``names`` again and remove their toxics (proxies that are not ours to delete)."""
    if not names:
        return [], True
    return asyncio.run(_on_proxy(url, lambda client: _reset(client, url, names)))


async def _on_proxy(
    url: str, work: Callable[[ProxyClient], Awaitable[list[str]]]
) -> tuple[list[str], bool]:
    """Run ``work`` with a client of the proxy at ``url``; (lines, whether it answered)."""
    async with ProxyClient(url, timeout=PROXY_TIMEOUT_S) as client:
        lines: list[str] = []
        try:
            lines = await work(client)
        except ProxyError:
            return lines, False
    return lines, True


async def _remove(client: ProxyClient, url: str, prefix: str) -> list[str]:
    lines = []
    for name in sorted(await client.proxies()):
        if name.startswith(prefix):
            with contextlib.suppress(ProxyError):  # gone already: another cleanup
                await client.delete_proxy(name)
            lines.append(f"deleted proxy {name} at {url}")
    return lines


async def _reset(client: ProxyClient, url: str, names: list[str]) -> list[str]:
    lines = []
    present = await client.proxies()
    for name in names:
        if name not in present:
            continue
        await client.update_proxy(name, enabled=True)
        for toxic in await client.toxics(name):
            await client.remove_toxic(name, toxic.name)
        lines.append(f"reset proxy {name} at {url}")
    return lines


def owns_run_dir(run: ActiveRun) -> bool:
    """Whether the entry's run directory is its run's: its config.json names the same run
    id, and the clock dir is the run dir's ``clock``. A planted or stale entry that
    names another directory must not make cleanup delete or rewrite anything there."""
    run_dir = Path(run.run_dir)
    config = _config_of(run_dir)
    if config is None or config.get("run_id") != run.run_id:
        return False
    return run.clock_dir is None or Path(run.clock_dir) == run_dir / "clock"


def _config_of(run_dir: Path) -> dict[str, Any] | None:
    """The run's config.json as an object, or None: read as a user's file is (a FIFO
    planted there must not hang cleanup), whatever is wrong with it."""
    path = run_dir / CONFIG
    try:
        config = parse_json(read_text(path, "run config"), str(path))
    except ChaoskitError:
        return None
    return config if isinstance(config, dict) else None


def _remove_clock_files(run: ActiveRun) -> list[str]:
    """libfaketime timestamp files of the run (in its own run directory)."""
    lines: list[str] = []
    if run.clock_dir:
        directory = Path(run.clock_dir)
        for path in sorted(directory.glob("*.faketime")) + sorted(directory.glob(".*.tmp")):
            with contextlib.suppress(OSError):
                path.unlink()
                lines.append(f"removed clock file {path}")
        with contextlib.suppress(OSError):
            directory.rmdir()
    return lines


def _sweep_shm(run: ActiveRun) -> list[str]:
    """Shared memory that the run's dead nodes left in /dev/shm (libfaketime's, of this
    user, made since the run started, whose process is gone)."""
    if not run.started:
        return []
    return [f"removed {path}" for path in sweep_shm(since=run.started)]


def mark_abandoned(run_dir: Path) -> bool:
    """Mark a run that never finished as abandoned; False if there is nothing to mark."""
    path = run_dir / CONFIG
    config = _config_of(run_dir)
    if config is None or config.get("finished") or config.get("abandoned"):
        return False
    config["abandoned"] = True
    config["finished"] = False
    with contextlib.suppress(OSError):
        write_json(path, config)
        return True
    return False


def _clean_docker(run_id: str | None, alive: set[str]) -> list[str]:
    """Containers and networks of the run (or of every run not in progress)."""
    try:
        from chaoskit.runtimes.containers import cleanup

        if run_id is not None:
            return [f"removed {what}" for what in cleanup(run_id)]
        lines: list[str] = []
        for rid in sorted(_docker_runs() - alive):
            lines += [f"removed {what}" for what in cleanup(rid)]
        return lines
    except Exception as exc:  # noqa: BLE001 - no engine is not an error here
        return [f"docker: not checked ({type(exc).__name__})"]


def _docker_runs() -> set[str]:
    """Run ids on labelled containers and networks whose creating process is gone.

    A run whose creator still lives is in progress even when no registry this cleanup
    reads knows it (another state dir or user, or the runtime used as a library).
    """
    from chaoskit.runtimes.containers import LABEL_CONTROLLER, LABEL_RUN
    from chaoskit.runtimes.images import docker_client

    client = docker_client()
    flt = {"label": LABEL_RUN}
    labels = [c.labels for c in client.containers.list(all=True, filters=flt)]
    labels += [n.attrs.get("Labels") or {} for n in client.networks.list(filters=flt)]
    runs: dict[str, bool] = {}  # run id -> some object of it names a live creator
    for lab in labels:
        if rid := lab.get(LABEL_RUN):
            alive = token_alive(str(lab.get(LABEL_CONTROLLER, "")))
            runs[str(rid)] = runs.get(str(rid), False) or alive
    return {rid for rid, alive in runs.items() if not alive}
