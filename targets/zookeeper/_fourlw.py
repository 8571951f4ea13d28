"""Leadership read from a ZooKeeper server: the ``srvr`` four-letter word.

``srvr`` answers ``Mode: leader|follower|observer|standalone`` and the last ``Zxid``;
the high 32 bits of a zxid are the epoch, ZooKeeper's term. A server that is not in
a quorum (LOOKING) answers "not currently serving requests": it is electing, so it
is reported as a candidate, with no term. ``srvr`` never names the leader, so
``Status.leader`` stays ``None`` (the AdminServer's ``/commands/leader`` would, at the
price of a Jetty start per server).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Literal

from chaoskit.core.target import Status

NOT_SERVING = "not currently serving requests"
_ROLES: dict[str, Literal["leader", "follower"]] = {
    "leader": "leader",
    "standalone": "leader",
    "follower": "follower",
    "observer": "follower",
}
#: A srvr answer is a few hundred bytes; anything much larger is not ZooKeeper.
MAX_ANSWER = 64 * 1024


async def four_letter_word(host: str, port: int, word: str, timeout: float) -> str:
    """Send ``word`` to the client port and return the whole answer (the server closes)."""

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(word.encode("ascii"))
            await writer.drain()
            return await reader.read(MAX_ANSWER)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    return (await asyncio.wait_for(exchange(), timeout)).decode("utf-8", errors="replace")


def parse_srvr(text: str, node: str) -> Status:
    """``Status`` from a ``srvr`` answer; ``ValueError`` for anything unrecognised."""
    if NOT_SERVING in text:
        return Status(role="candidate", term=None, leader=None)
    fields = dict(
        (key.strip(), value.strip())
        for key, sep, value in (line.partition(":") for line in text.splitlines())
        if sep
    )
    role = _ROLES.get(fields.get("Mode", ""))
    if role is None:
        raise ValueError(f"{node}: no known Mode in srvr answer {text[:80]!r}")
    zxid_text = fields.get("Zxid")
    if zxid_text is None:
        raise ValueError(f"{node}: no Zxid in srvr answer {text[:80]!r}")
    epoch = int(zxid_text, 16 if zxid_text.lower().startswith("0x") else 10) >> 32
    # srvr does not say whom a follower follows, so no node names a leader: a leader
    # naming only itself would make the checkers wait for followers' agreement forever.
    return Status(role=role, term=epoch, leader=None)
