"""One kept-open HTTP/1.1 connection to one peer that POSTs JSON and reads the answer.

Peer messages are most of a reference node's traffic: a Raft follower of a 9-node
cluster answers every append and heartbeat round, and its leader sends them to every
follower. In a profile of a follower, a third of the samples that held the interpreter
were in aiohttp's ``ClientSession`` (request and URL objects, cookie jar, timers, the
connection pool). A peer's worker sends one message at a time, so one connection, the
head written by hand and a small reader of the answer are all it needs. Measured in
paired runs of ``benchmarks/observer.py`` (9 nodes, two each, quiet machine): the
nodes' CPU 29.3 -> 28.1 s, status answers p99 7.5 -> 6.4 ms, the observer's interval
p99 26.5 -> 25.4 ms (the nodes answer sooner when their event loops are less busy).

Any failure closes the connection (the next message opens a new one): a message is
never sent twice, as a network may lose it but the node does not resend. A connection
the peer closed while it was idle is replaced before the next message is written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

#: Longest answer body read (peers answer 204, or 400 with a short JSON error).
MAX_ANSWER = 64 * 1024


class PostError(Exception):
    """The peer did not take the message: refused, closed, timed out or answered badly."""


class PeerLine:
    """POST ``body`` as JSON to ``http://host:port/path``, one message at a time."""

    def __init__(self, host: str, port: int, path: str = "/peer") -> None:
        self.host = host
        self.port = port
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode("ascii")
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, body: dict[str, Any], timeout: float) -> int:
        """Send one message; the answer's status code. ``PostError`` if it was not taken."""
        data = json.dumps(body, separators=(",", ":")).encode("utf-8")
        try:
            async with asyncio.timeout(timeout):
                return await self._exchange(data)
        except (
            OSError,
            TimeoutError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ) as exc:
            self.close()
            raise PostError(f"{type(exc).__name__}: {exc}") from exc

    async def _exchange(self, data: bytes) -> int:
        if self._writer is None or self._writer.is_closing() or self._reader_done():
            self.close()
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(b"%s%d\r\n\r\n%s" % (self._head, len(data), data))
        head = await self._reader.readuntil(b"\r\n\r\n")
        status, length, keep = _parse_head(head)
        if length:
            await self._reader.readexactly(length)
        if not keep:
            self.close()
        return status

    def _reader_done(self) -> bool:
        """The peer closed the connection while it was idle (a restart, a proxy that cut
        its connections): open a new one rather than lose the next message to it."""
        return self._reader is None or self._reader.at_eof()

    def close(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._reader = self._writer = None


def _parse_head(head: bytes) -> tuple[int, int, bool]:
    """(status, body length, connection stays open) of an answer's head.

    ``ValueError`` for anything but a plain HTTP/1.1 answer with a Content-Length (or
    none, for 204/304): aiohttp answers the peer endpoint that way.
    """
    lines = head[:-4].split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    if version != b"HTTP/1.1":
        raise ValueError(f"not an HTTP/1.1 answer: {lines[0][:40]!r}")
    status = int(rest[:3])
    length, keep = 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
        elif name == b"transfer-encoding":
            raise ValueError("a chunked answer")
    if not 0 <= length <= MAX_ANSWER:
        raise ValueError(f"an answer of {length} bytes")
    return status, length, keep
