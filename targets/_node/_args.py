"""The command line every reference node takes.

``python -m chaoskit.targets.raft --id n1 --listen 127.0.0.1:7001 --peer n2=127.0.0.1:17002
--peer n3=127.0.0.1:17003 --data-dir /tmp/n1``: a peer address is where this node
dials that peer, which may be a fault proxy rather than the peer itself.
"""

from __future__ import annotations

import argparse
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NodeArgs:
    id: str
    host: str
    port: int
    peers: dict[str, tuple[str, int]]
    data_dir: Path
    seed: int | None
    tick_ms: float
    election_ticks: int
    heartbeat_ticks: int
    request_timeout: float
    bug: str | None
    #: On/off protocol features the node was started with (``--pre-vote`` for Raft).
    flags: frozenset[str] = frozenset()

    def rng(self) -> random.Random:
        """The node's randomness: ``--seed`` makes its timeouts reproducible."""
        seed = self.seed if self.seed is not None else int.from_bytes(os.urandom(8), "big")
        return random.Random(seed)


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def _peer(text: str) -> tuple[str, tuple[str, int]]:
    name, sep, addr = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected ID=HOST:PORT, got {text!r}")
    return name, _address(addr)


def _positive(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text!r}")
        return value

    return parse


def parse_args(
    prog: str,
    argv: Sequence[str] | None,
    *,
    bugs: Sequence[str],
    tick_ms: float,
    election_ticks: int,
    heartbeat_ticks: int,
    flags: Sequence[str] = (),
) -> NodeArgs:
    """Parse the node command line; argparse exits with status 2 on bad input."""
    p = argparse.ArgumentParser(prog=prog, description=f"chaoskit reference node ({prog})")
    p.add_argument("--id", required=True, help="this node's id, e.g. n1")
    p.add_argument("--listen", required=True, type=_address, help="HOST:PORT to bind")
    p.add_argument("--peer", action="append", default=[], type=_peer, help="ID=HOST:PORT")
    p.add_argument("--data-dir", required=True, type=Path)
    p.add_argument("--seed", type=int, default=None, help="seed of the election timeouts")
    p.add_argument("--tick-ms", type=_positive(float), default=tick_ms)
    p.add_argument("--election-ticks", type=_positive(int), default=election_ticks)
    p.add_argument("--heartbeat-ticks", type=_positive(int), default=heartbeat_ticks)
    p.add_argument("--request-timeout", type=_positive(float), default=1.0, help="seconds")
    p.add_argument("--bug", choices=list(bugs), default=None, help="a planted bug")
    for flag in flags:
        p.add_argument(f"--{flag}", action="store_true", help="turn this feature on")
    ns = p.parse_args(argv)
    peers = dict(ns.peer)
    if ns.id in peers:
        p.error(f"--peer names this node itself ({ns.id})")
    if len(peers) != len(ns.peer):
        p.error("a peer id is given twice")
    return NodeArgs(
        id=ns.id,
        host=ns.listen[0],
        port=ns.listen[1],
        peers=peers,
        data_dir=ns.data_dir,
        seed=ns.seed,
        tick_ms=ns.tick_ms,
        election_ticks=ns.election_ticks,
        heartbeat_ticks=ns.heartbeat_ticks,
        request_timeout=ns.request_timeout,
        bug=ns.bug,
        flags=frozenset(f for f in flags if getattr(ns, f.replace("-", "_"))),
    )
