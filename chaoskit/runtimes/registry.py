"""The registry of runs in progress: ``<state dir>/active/<run_id>.json``.

Why it exists: a controller killed with SIGKILL runs no cleanup at all. Its node
processes can still be found through ``/proc`` (they carry ``CHAOSKIT_RUN_ID``), but
what lives outside its process tree cannot: proxies left disabled on an external
Toxiproxy, containers, libfaketime files, the run directory that will never be marked
finished. The controller writes an entry when a run starts and removes it when its
teardown is done; an entry whose controller is gone is a run that did not clean up,
and ``chaoskit cleanup`` finishes the job from it.

The state dir is ``$CHAOSKIT_STATE_DIR``, else ``~/.local/state/chaoskit``.

A controller is named by a *process token*, ``"<pid>:<start time>"`` (the start time
in clock ticks from ``/proc/<pid>/stat``), so a recycled pid is never mistaken for a
live controller.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from chaoskit.errors import ConfigError

STATE_DIR_ENV = "CHAOSKIT_STATE_DIR"
ACTIVE = "active"
#: What a run id may look like: chaoskit makes 10 hex digits; letters, digits, ``_``,
#: ``.`` and ``-`` are accepted, never a path (``../../x`` read an entry from outside
#: the state dir).
RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is a run id; a ``ConfigError`` if it could be a path or worse."""
    if not RUN_ID.fullmatch(run_id):
        raise ConfigError(
            f"{run_id!r} is not a run id (letters, digits, '_', '.', '-'; "
            "as in config.json's run_id)"
        )
    return run_id


@dataclass
class ActiveRun:
    """What a run in progress holds, as far as cleanup needs to know.

    ``pids`` are local processes only: the nodes of an ssh run live on other machines,
    found there through ``inventory``.

    ``proxy_url`` is set only for a proxy that outlives the controller (``--toxiproxy-url``,
    a compose project's): the embedded one dies with it. Cleanup deletes every proxy
    named ``proxy_prefix...``; ``proxy_reset`` names proxies that are not the run's to
    delete (a compose file's): they are enabled again and stripped of toxics instead.
    """

    run_id: str
    run_dir: str
    controller: str
    runtime: str = "local"
    proxy_url: str | None = None
    proxy_prefix: str = ""
    proxy_reset: list[str] = field(default_factory=list)
    clock_dir: str | None = None
    #: Where the run's fault file systems keep their backing directories (disk faults).
    disk_root: str | None = None
    pids: list[int] = field(default_factory=list)
    started: float = 0.0
    #: ``--runtime ssh``: the file naming the hosts (an inventory, or a target spec whose
    #: ``[inventory_table]`` holds it); cleanup removes the run's leftovers there.
    inventory: str | None = None
    inventory_table: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> ActiveRun:
        """An entry as written by ``register``; ``ValueError`` for anything else (a
        half-written or planted file), so that cleanup never acts on a malformed one."""
        if not isinstance(data, dict):
            raise ValueError("a registry entry is a JSON object")
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        run = cls(**known)
        for f in fields(cls):
            value = getattr(run, f.name)
            kind = _TYPES[f.name]
            if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
                raise ValueError(f"registry entry field {f.name} is not {kind}")
        check_run_id(run.run_id)
        if not all(isinstance(pid, int) for pid in run.pids) or not all(
            isinstance(name, str) for name in run.proxy_reset
        ):
            raise ValueError("registry entry lists of the wrong type")
        return run


def _field_types() -> dict[str, Any]:
    """Each entry field's type, as ``isinstance`` takes it (``list[int]`` -> ``list``),
    read from the dataclass itself so a new field is never left unchecked."""

    def checkable(hint: Any) -> Any:
        if get_origin(hint) is list:
            return list
        return int | float if hint is float else hint  # JSON writes 3.0 as 3 at times

    return {name: checkable(hint) for name, hint in get_type_hints(ActiveRun).items()}


_TYPES: dict[str, Any] = _field_types()


def state_dir() -> Path:
    """Where chaoskit keeps state outside any run store."""
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return Path(override)
    return Path.home() / ".local" / "state" / "chaoskit"


def active_dir() -> Path:
    return state_dir() / ACTIVE


def entry_path(run_id: str) -> Path:
    return active_dir() / f"{check_run_id(run_id)}.json"


def register(run: ActiveRun) -> Path:
    """Write (or rewrite) the entry of ``run`` atomically; ``OSError`` if impossible."""
    path = entry_path(run.run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(run.to_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def unregister(run_id: str) -> None:
    """Remove the entry of ``run_id`` (nothing of the run is left to clean up)."""
    with contextlib.suppress(FileNotFoundError):
        entry_path(run_id).unlink()


def read_all() -> list[ActiveRun]:
    """Every registered run; an unreadable entry is skipped (it may be half written)."""
    runs: list[ActiveRun] = []
    directory = active_dir()
    if not directory.is_dir():
        return runs
    for path in sorted(directory.glob("*.json")):
        with contextlib.suppress(OSError, ValueError, TypeError, RecursionError, ConfigError):
            run = ActiveRun.from_json(json.loads(path.read_text(encoding="utf-8")))
            if path.name == f"{run.run_id}.json":  # an entry names its own run only
                runs.append(run)
    return runs


def read(run_id: str) -> ActiveRun | None:
    """The entry of ``run_id``, if there is a well-formed one (``ConfigError`` if
    ``run_id`` is no run id)."""
    path = entry_path(run_id)
    try:
        run = ActiveRun.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, RecursionError, ConfigError):
        return None
    return run if run.run_id == run_id else None


def orphaned() -> list[ActiveRun]:
    """Registered runs whose controller is gone: they ended without cleaning up."""
    return [run for run in read_all() if not token_alive(run.controller)]


def process_token(pid: int | None = None) -> str:
    """``"<pid>:<start time>"`` of ``pid`` (default: this process); ``"<pid>:"`` if unknown."""
    pid = os.getpid() if pid is None else pid
    start = _start_ticks(pid)
    return f"{pid}:{'' if start is None else start}"


def token_alive(token: str) -> bool:
    """Is the process named by ``token`` still running (the same process, not a reuse)?"""
    pid_text, _, start = token.partition(":")
    if not pid_text.isdigit():
        return False
    now = _start_ticks(int(pid_text))
    if now is None:
        return False
    return not start or str(now) == start


def _start_ticks(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat``; None for a missing or zombie process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])
