"""One node: ``python -m chaoskit.targets.paxos --id n1 --listen HOST:PORT --peer n2=HOST:PORT ...``

(and ``--data-dir D``).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from chaoskit.targets._node import parse_args
from chaoskit.targets.bully._core import rank_of
from chaoskit.targets.paxos._core import BUGS, RANKS
from chaoskit.targets.paxos._node import PaxosNode
from chaoskit.targets.paxos._storage import StorageError


def main(argv: list[str] | None = None) -> int:
    args = parse_args(
        "chaoskit.targets.paxos",
        argv,
        bugs=BUGS,
        tick_ms=10.0,
        election_ticks=60,
        heartbeat_ticks=5,
    )
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {args.id} %(name)s %(levelname)s %(message)s"
    )
    try:
        ranks = [rank_of(n) for n in [args.id, *args.peers]]
    except ValueError as exc:
        print(f"chaoskit.targets.paxos: {exc}", file=sys.stderr)
        return 2
    if len(set(ranks)) != len(ranks) or not all(0 < r < RANKS for r in ranks):
        print(
            f"chaoskit.targets.paxos: node ids must end in distinct numbers 1..{RANKS - 1}",
            file=sys.stderr,
        )
        return 2
    try:
        node = PaxosNode(args)
    except StorageError as exc:
        print(f"chaoskit.targets.paxos: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(node.run())
    except OSError as exc:
        print(
            f"chaoskit.targets.paxos: cannot serve on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
