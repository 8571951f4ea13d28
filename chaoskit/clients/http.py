"""HTTP to the nodes: httpx's interface, aiohttp's speed.

Targets speak httpx (``http.get(...)``, ``httpx.ConnectError``...), but the observer
alone makes hundreds of requests a second, and httpx's own connection pool costs
several times the CPU of aiohttp's per request on these machines (measured: about
1.2 ms against 0.3 ms). That CPU is taken from the controller's event loop, which
also relays every message between nodes through the embedded proxy. So the
controller hands targets an ``httpx.AsyncClient`` whose transport (httpx's
pluggable part) is an aiohttp session, and maps aiohttp's errors onto httpx's.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx


class AiohttpTransport(httpx.AsyncBaseTransport):
    """An httpx transport that sends requests through one aiohttp session."""

    def __init__(self, *, limit: int = 100) -> None:
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, force_close=False)
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
            )
            # aiohttp resends an idempotent request (GET, PUT, DELETE) once when its
            # kept-alive connection breaks, and has no public switch for it (aiohttp
            # issue 10790; its own test client clears this flag). For a history that is
            # wrong twice over: a PUT the node already took runs again, and when the
            # node has died the resend's "connection refused" reads as "never sent", a
            # definite failure for a write that may have committed. Measured: it made
            # the linearizability checker blame a correct Raft cluster.
            self._session._retry_connection = False
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=timeouts.get("connect"), sock_read=timeouts.get("read")
        )
        body = await request.aread()
        try:
            async with self._get_session().request(
                request.method,
                str(request.url),
                data=body or None,
                headers=[(k, v) for k, v in request.headers.items() if k.lower() != "host"],
                timeout=timeout,
                allow_redirects=False,
            ) as resp:
                content = await resp.read()
                return httpx.Response(
                    resp.status,
                    headers=list(resp.raw_headers),
                    content=content,
                    request=request,
                )
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc), request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def node_client(*, timeout: float = 5.0, limit: int = 100) -> httpx.AsyncClient:
    """The client the observer, the workload clients and targets use for nodes."""
    return httpx.AsyncClient(transport=AiohttpTransport(limit=limit), timeout=timeout)


def observer_client(*, timeout: float = 0.25, limit: int = 100) -> httpx.AsyncClient:
    """The observer's client: the same, but plain GETs go over one kept-open connection
    per node, read by hand (keepalive.py): a sixth of the CPU per status question."""
    from chaoskit.clients.keepalive import ObserverClient

    return ObserverClient(AiohttpTransport(limit=limit), timeout=timeout)
