"""The run store: ``<store>/<target>-<nemesis>/<UTC time>/`` and ``<store>/latest``.

A run directory holds ``config.json``, the three streams, ``results.json``,
``report.html``, ``junit.xml`` and ``logs/<node>.log``. Everything in it is written
as the run goes, so an interrupted run can still be checked.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaoskit.core.checker import RunData
from chaoskit.core.records import HISTORY, NEMESIS, OBSERVATIONS
from chaoskit.errors import ConfigError, SetupError
from chaoskit.store.files import parse_json, read_text
from chaoskit.store.streams import read_jsonl

CONFIG = "config.json"
RESULTS = "results.json"
LOGS = "logs"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")
#: Longest ``<target>-<nemesis>`` directory name; file systems stop at 255 bytes.
MAX_LABEL = 120


def run_label(target: str, nemesis: str) -> str:
    """The directory name of a target and nemesis pairing, safe and of bounded length.

    A long nemesis list (every nemesis of the catalogue, with options) would make a
    name the file system refuses; it is cut, and a digest of the whole keeps
    different lists apart.

    >>> run_label("targets/raft.toml", "partition+kill")
    'raft-partition+kill'
    >>> len(run_label("raft", "+".join(["clock-skew-leader:offset_s=-5"] * 20)))
    120
    """
    label = _UNSAFE.sub("_", f"{Path(target).stem}-{nemesis}")
    if len(label) <= MAX_LABEL:
        return label
    digest = hashlib.sha256(label.encode()).hexdigest()[:10]
    return f"{label[: MAX_LABEL - len(digest) - 1]}-{digest}"


def create_run_dir(store: Path, target: str, nemesis: str) -> Path:
    """Make a fresh run directory and point ``<store>/latest`` at it."""
    label = run_label(target, nemesis)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    try:
        parent = store / label
        parent.mkdir(parents=True, exist_ok=True)
        run_dir = parent / stamp
        for attempt in range(1, 100):  # parallel runs (pytest-xdist) in the same microsecond
            try:
                run_dir.mkdir()
                break
            except FileExistsError:
                run_dir = parent / f"{stamp}-{attempt}"
        (run_dir / LOGS).mkdir()
        _point_latest(store, run_dir)
    except OSError as exc:
        raise SetupError(f"cannot write the run store {store}: {exc.strerror or exc}") from exc
    return run_dir


def _point_latest(store: Path, run_dir: Path) -> None:
    link = store / "latest"
    tmp = store / f".latest.{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(run_dir.relative_to(store))
    tmp.replace(link)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (temp file, fsync, rename)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, default=str)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def resolve_run_dir(path: Path) -> Path:
    """Accept a run directory, or a store (its ``latest`` run); else a ``ConfigError``."""
    if (path / CONFIG).is_file():
        return path
    if (path / "latest" / CONFIG).is_file():
        return (path / "latest").resolve()
    raise ConfigError(f"{path} is not a chaoskit run directory (no {CONFIG})")


#: The fields of ``config.json`` that checkers, reports and cleanup read, with the types
#: they need (None is always allowed: an older run may lack a field). A hand-edited or
#: corrupted file is refused here in one line instead of failing deep in a reader.
_NUMBER = (int, float)
CONFIG_FIELDS: dict[str, tuple[type, ...]] = {
    "run_id": (str,),
    "target": (str,),
    "workload": (str,),
    "model": (str,),
    "policy": (str,),
    "command": (str,),
    "started_at": (str,),
    "finished": (bool,),
    "abandoned": (bool,),
    "seed": (int,),
    "end_time": _NUMBER,
    "election_deadline": _NUMBER,
    "linearizable_budget": _NUMBER,
    "nodes": (list, int),
    "checkers": (list,),
    "nemesis": (list, str),
}
#: Fields that hold a list of names.
_NAME_LISTS = ("nodes", "checkers", "nemesis")


def read_config(run_dir: Path) -> dict[str, Any]:
    """``config.json`` of a run as a JSON object whose known fields have their types;
    a ``ConfigError`` naming the file and the field otherwise."""
    path = run_dir / CONFIG
    config = parse_json(read_text(path, "run config"), str(path))
    if not isinstance(config, dict):
        raise ConfigError(f"{path} is not a JSON object but a {type(config).__name__}")
    for key, kinds in CONFIG_FIELDS.items():
        value = config.get(key)
        if value is None:
            continue
        wrong = not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds)
        if key in _NAME_LISTS and isinstance(value, list):
            wrong = wrong or not all(isinstance(item, str) for item in value)
        if wrong:
            names = " or ".join(k.__name__ for k in kinds)
            raise ConfigError(f"{path}: field {key!r} must be {names}, not {value!r:.60}")
    return config


def load_run(run_dir: Path) -> RunData:
    """Read a stored run for the checkers; a torn last line marks it incomplete."""
    run_dir = resolve_run_dir(run_dir)
    config = read_config(run_dir)
    try:
        streams = {name: read_jsonl(run_dir / name) for name in (HISTORY, OBSERVATIONS, NEMESIS)}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the run in {run_dir}: {exc}") from exc
    torn = any(s.torn for s in streams.values())
    incomplete = torn or not config.get("finished", False)
    return RunData(
        history=streams[HISTORY].records,
        observations=streams[OBSERVATIONS].records,
        nemesis=streams[NEMESIS].records,
        config=config,
        incomplete=incomplete,
    )
