"""The observer's HTTP client: httpx's interface, plain GETs over kept-open connections.

The observer asks every node "role, term, leader?" fifty times a second: 450 requests
a second for 9 nodes, on the event loop that also relays every message between the
nodes (the embedded proxy) and runs the clients. Through httpx (even on aiohttp's
transport, ``http.py``) one status question costs about 0.35 ms of the controller's
CPU, almost all of it in httpx building the request and aiohttp's session machinery;
written by hand on one connection kept open per node it costs about 0.06 ms (the
asyncio stream, the ``httpx.Response`` targets read and their own parsing; measured
against one aiohttp node; ``benchmarks/observer.py`` measures whole runs both ways).

So ``ObserverClient`` is an ``httpx.AsyncClient`` (targets keep their contract: they
call ``http.get(...)`` or ``http.request("GET", ...)``, catch httpx's errors, read an
``httpx.Response``) whose GETs without extras (no body, params, headers, cookies,
auth; plain ``http://``) go through ``_Line``: one connection per node, the request
bytes built once per URL, the answer read by a small HTTP/1.1 reader (Content-Length,
chunked, or until close). Anything else goes through httpx as before, and so does a
GET whose answer the reader does not handle (1xx, a bad header): it is asked again
there (a status question can be).
Errors map onto httpx's: ``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``,
``ReadError``. A GET on a connection that broke is never sent again: it raises, and
the next GET opens a new connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

#: Longest answer the lean reader takes (status answers are tiny).
MAX_BODY = 1 << 20


class _Unsupported(Exception):
    """An answer the lean reader does not handle: httpx asks again."""


@dataclass(frozen=True)
class _Target:
    """What a URL's GET needs, computed once: where to connect and the bytes to send."""

    host: str
    port: int
    request: bytes
    template: httpx.Request


class _Line:
    """One kept-open connection to one node."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    async def exchange(self, request: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes, bool]:
        """Send ``request``; (status, headers, body, keep the connection open)."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise _Unsupported("not an HTTP/1.x answer")
        status = int(parts[1])
        if status < 200:
            raise _Unsupported("an interim answer")
        headers = []
        fields: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            if not sep:
                raise _Unsupported("a malformed header")
            headers.append((name, value.strip()))
            fields[name.strip().lower()] = value.strip().lower()
        keep = fields.get(b"connection") != b"close" and parts[0] == b"HTTP/1.1"
        if b"chunked" in fields.get(b"transfer-encoding", b""):
            return status, headers, await self._chunks(), keep
        if b"content-length" in fields:
            size = int(fields[b"content-length"])
            if size > MAX_BODY:
                raise _Unsupported("a large answer")
            return status, headers, await self.reader.readexactly(size), keep
        if status in (204, 304):
            return status, headers, b"", keep
        return status, headers, await self.reader.read(MAX_BODY), False

    async def _chunks(self) -> bytes:
        body = bytearray()
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await self.reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return bytes(body)
            if len(body) + size > MAX_BODY:
                raise _Unsupported("a large answer")
            body += (await self.reader.readexactly(size + 2))[:-2]


class ObserverClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose plain GETs go over kept-open connections."""

    def __init__(self, transport: httpx.AsyncBaseTransport, *, timeout: float) -> None:
        super().__init__(transport=transport, timeout=timeout)
        self._default_timeout = timeout
        self._targets: dict[str, _Target | None] = {}
        self._idle: dict[tuple[str, int], list[_Line]] = {}

    async def request(
        self,
        method: str,
        url: httpx.URL | str,
        *,
        timeout: Any = httpx.USE_CLIENT_DEFAULT,
        **extras: Any,
    ) -> httpx.Response:
        """A plain GET over a kept-open connection; anything else through httpx (``get``
        comes here too)."""
        plain = method.upper() == "GET" and all(
            v is None or v is httpx.USE_CLIENT_DEFAULT for v in extras.values()
        )
        target = self._target(url) if plain and isinstance(url, str) else None
        if target is None:
            return await super().request(method, url, timeout=timeout, **extras)
        try:
            return await self._lean(target, _seconds(timeout, self._default_timeout))
        except _Unsupported:
            return await super().request(method, url, timeout=timeout, **extras)

    async def aclose(self) -> None:
        for lines in self._idle.values():
            for line in lines:
                line.close()
        self._idle.clear()
        await super().aclose()

    def _target(self, url: str) -> _Target | None:
        if url not in self._targets:
            self._targets[url] = _plain_target(url)
        return self._targets[url]

    async def _lean(self, target: _Target, seconds: float | None) -> httpx.Response:
        request = target.template
        key = (target.host, target.port)
        idle = self._idle.setdefault(key, [])
        line = idle.pop() if idle else None
        try:
            async with asyncio.timeout(seconds):
                if line is None:
                    line = _Line(*await _connect(target, request))
                status, headers, body, keep = await line.exchange(target.request)
        except TimeoutError as exc:
            if line is not None:
                line.close()
                raise httpx.ReadTimeout("timed out", request=request) from exc
            raise httpx.ConnectTimeout("timed out", request=request) from exc
        except _Unsupported:
            if line is not None:
                line.close()
            raise
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError) as exc:
            if line is not None:
                line.close()
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        except BaseException:  # cancelled mid-question: the connection's state is unknown
            if line is not None:
                line.close()
            raise
        if keep:
            idle.append(line)
        else:
            line.close()
        return httpx.Response(status, headers=headers, content=body, request=request)


async def _connect(
    target: _Target, request: httpx.Request
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    try:
        return await asyncio.open_connection(target.host, target.port)
    except OSError as exc:
        raise httpx.ConnectError(str(exc), request=request) from exc


def _plain_target(url: str) -> _Target | None:
    """The lean GET of ``url``, or None when it needs httpx (TLS, credentials...)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.username or parts.password or not parts.hostname:
        return None
    try:
        port = parts.port or 80
        host = parts.netloc.encode("ascii")
        path = ((parts.path or "/") + (f"?{parts.query}" if parts.query else "")).encode("ascii")
    except (ValueError, UnicodeError):
        return None
    request = b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\nAccept: */*\r\n\r\n"
    return _Target(parts.hostname, port, request, httpx.Request("GET", url))


def _seconds(timeout: Any, default: float) -> float | None:
    """The time limit of one GET from httpx's ``timeout`` argument (the read limit)."""
    if isinstance(timeout, int | float):
        return float(timeout)
    if isinstance(timeout, httpx.Timeout):
        return timeout.read
    return default
