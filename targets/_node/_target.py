"""What the Raft and Bully ``Target`` classes share: options, command line, status.

Options (``-o key=value``): ``bug``, ``tick-ms``, ``election-ticks``,
``heartbeat-ticks``, ``request-timeout``, ``seed`` (node i gets ``seed + i``), and the
target's on/off ``flags`` (Raft: ``pre-vote=true``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx

import chaoskit
from chaoskit.core.plugins import unknown_message
from chaoskit.core.target import Launch, NodeInfo, Peers, Status, TargetBase
from chaoskit.errors import ConfigError
from chaoskit.targets._options import positive, switch

#: The folder that holds the ``chaoskit`` package (a checkout, or site-packages).
ROOT = Path(chaoskit.__file__).resolve().parents[1]
ROLES = ("leader", "follower", "candidate")


def python_launch(argv: list[str]) -> Launch:
    """Launch ``python -m chaoskit.targets.X ...`` with this chaoskit importable, from any cwd."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return Launch(argv=argv, env={"PYTHONPATH": path})


_NUMERIC: dict[str, type[int] | type[float]] = {
    "tick-ms": float,
    "election-ticks": int,
    "heartbeat-ticks": int,
    "request-timeout": float,
    "seed": int,
}


class NodeTarget(TargetBase):
    """Base of the reference targets; subclasses set the class attributes."""

    module: ClassVar[str] = ""
    bugs: ClassVar[tuple[str, ...]] = ()
    default_tick_ms: ClassVar[float] = 10.0
    default_election_ticks: ClassVar[int] = 15
    #: On/off options (``-o pre-vote=true``), passed as ``--pre-vote`` when on.
    flags: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.options: dict[str, Any] = {}

    @property
    def tick_s(self) -> float:
        return float(self.options.get("tick-ms", self.default_tick_ms)) / 1000.0

    @property
    def election_ticks(self) -> int:
        return int(self.options.get("election-ticks", self.default_election_ticks))

    def configure(self, options: Mapping[str, str]) -> None:
        """Check and keep the ``-o`` options; ``ConfigError`` names a bad one."""
        parsed: dict[str, Any] = {}
        for key, text in options.items():
            if key == "bug":
                if text not in self.bugs:
                    what = f"{self.module.split('.')[-1]} bug"
                    raise ConfigError(unknown_message(what, text, list(self.bugs) or ["none"]))
                parsed[key] = text
            elif key in _NUMERIC:
                parsed[key] = _number(key, text, _NUMERIC[key])
            elif key in self.flags:
                parsed[key] = switch(key, text)
            else:
                raise ConfigError(unknown_message("option", key, ["bug", *_NUMERIC, *self.flags]))
        self.options = parsed

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        """``python -m targets.<name>`` listening on ``node.port`` (its one port, ``api``,
        which peers dial too), dialing ``peers``."""
        argv = [sys.executable, "-m", self.module, "--id", node.id]
        argv += ["--listen", f"{node.host}:{node.port}", "--data-dir", str(node.data_dir)]
        for peer, addrs in sorted(peers.items()):
            if peer != node.id:
                host, port = addrs["api"]
                argv += ["--peer", f"{peer}={host}:{port}"]
        for key, value in sorted(self.options.items()):
            if key in self.flags:
                argv += [f"--{key}"] if value else []
                continue
            if key == "seed":
                value = value + node.index
            argv += [f"--{key}", str(value)]
        return python_launch(argv)

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        """``GET /status``; raises on no answer or a malformed one."""
        resp = await http.get(f"{node.url}/status", timeout=timeout)
        resp.raise_for_status()
        body = resp.json()
        role, term, leader = body.get("role"), body.get("term"), body.get("leader")
        if role not in ROLES:
            raise ValueError(f"{node.id} reports role {role!r}")
        if term is not None and type(term) is not int:
            raise ValueError(f"{node.id} reports term {term!r}")
        if leader is not None and not isinstance(leader, str):
            raise ValueError(f"{node.id} reports leader {leader!r}")
        return Status(role=role, term=term, leader=leader)


def _number(key: str, text: str, kind: type[int] | type[float]) -> int | float:
    """A positive number, but for ``seed``, which may be any whole number."""
    if key != "seed":
        return positive(key, text, kind)
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"option seed must be a whole number, got {text!r}") from None
