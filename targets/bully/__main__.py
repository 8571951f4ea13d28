"""One node: ``python -m chaoskit.targets.bully --id n1 --listen HOST:PORT --peer n2=HOST:PORT ...``

(and ``--data-dir D``).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from chaoskit.targets._node import parse_args
from chaoskit.targets.bully._core import rank_of
from chaoskit.targets.bully._node import BullyNode


def main(argv: list[str] | None = None) -> int:
    args = parse_args(
        "chaoskit.targets.bully", argv, bugs=(), tick_ms=10.0, election_ticks=15, heartbeat_ticks=5
    )
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {args.id} %(name)s %(levelname)s %(message)s"
    )
    try:
        ranks = [rank_of(n) for n in [args.id, *args.peers]]
    except ValueError as exc:
        print(f"chaoskit.targets.bully: {exc}", file=sys.stderr)
        return 2
    if len(set(ranks)) != len(ranks):
        print("chaoskit.targets.bully: node ids must end in distinct numbers", file=sys.stderr)
        return 2
    try:
        asyncio.run(BullyNode(args).run())
    except OSError as exc:
        print(
            f"chaoskit.targets.bully: cannot serve on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
