"""The acceptor's durable state: ``promised`` and ``accepted`` in one fsynced file.

``paxos.json`` is replaced atomically (write, fsync, rename, fsync the directory),
so a crash leaves either the old or the new state, never half of one.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from chaoskit.targets.paxos._core import Durable

STATE = "paxos.json"


class StorageError(Exception):
    """The data directory holds a state this node cannot trust: it refuses to start."""


def load(data_dir: Path) -> Durable | None:
    """What the acceptor persisted before it last stopped (``None`` on first start)."""
    path = data_dir / STATE
    try:
        body = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StorageError(f"cannot read {path}: {exc}") from exc
    if not isinstance(body, dict):
        raise StorageError(f"{path} is not a JSON object")
    promised, accepted = body.get("promised"), body.get("accepted")
    if type(promised) is not int or type(accepted) is not int or min(promised, accepted) < 0:
        raise StorageError(f"{path} holds no valid promised/accepted ballots")
    return Durable(promised, accepted)


def save(data_dir: Path, state: Durable) -> None:
    """Persist ``state`` durably before the node answers anyone."""
    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = data_dir / (STATE + ".tmp")
    with open(tmp, "w") as f:
        json.dump({"promised": state.promised, "accepted": state.accepted}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, data_dir / STATE)
    fd = os.open(data_dir, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
