"""One node: ``python -m chaoskit.targets.raft --id n1 --listen HOST:PORT --peer n2=HOST:PORT ...``

(and ``--data-dir D``).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from chaoskit.targets._node import parse_args
from chaoskit.targets.raft._core import BUGS
from chaoskit.targets.raft._node import RaftNode
from chaoskit.targets.raft._storage import StorageError


def main(argv: list[str] | None = None) -> int:
    args = parse_args(
        "chaoskit.targets.raft",
        argv,
        bugs=BUGS,
        tick_ms=10.0,
        election_ticks=25,
        heartbeat_ticks=5,
        flags=("pre-vote",),
    )
    logging.basicConfig(
        level=logging.INFO, format=f"%(asctime)s {args.id} %(name)s %(levelname)s %(message)s"
    )
    try:
        asyncio.run(RaftNode(args).run())
    except StorageError as exc:
        print(f"chaoskit.targets.raft: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"chaoskit.targets.raft: cannot serve on {args.host}:{args.port}: {exc}",
            file=sys.stderr,
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
