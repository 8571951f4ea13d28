"""The controller's side of a fault API nobody else can drive: one ``FaultApiWatch``
per run.

It holds the run's token (``secrets.token_urlsafe(32)``, in memory only) and makes
the proxy server and clients with it, and it puts what others did to the run's
proxies into the nemesis stream, whichever proxy the run uses:

==============================  ================  =====================================
proxy                           ``mode``          how foreign changes are found
==============================  ================  =====================================
embedded (local runtime)        ``"hook"``        the server's ``on_change``, at once
proxy container (Docker)        ``"pull"``        ``GET /chaoskit/changes`` at ``check``
external (``--toxiproxy-url``,  ``"drift"``       the proxies' state against the
compose file's proxy)                             client's ledger at ``check``
==============================  ================  =====================================

The controller calls ``check()`` after every heal and before teardown, and
``close()`` before its streams close. Records: ``{"type": "api", ...}``
(chaoskit/proxy/_audit.py) and ``{"type": "drift", ...}`` (chaoskit/proxy/_drift.py),
each drift reported once until it changes.

Example (the local runtime)::

    watch = FaultApiWatch(nemesis_log.write, clock.now, prefix=f"ck-{run_id}-")
    server = watch.server(seed)             # token, loopback upstreams, the hook
    await server.start()
    client = watch.client(server.url, "hook")
    ...
    await watch.check()                     # after each heal and at the end
    watch.close()
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any, Literal

from chaoskit.proxy._audit import AuditTrail
from chaoskit.proxy._client import ProxyClient
from chaoskit.proxy._policy import Policy
from chaoskit.proxy._server import ProxyServer

WatchMode = Literal["hook", "pull", "drift"]


class FaultApiWatch:
    """The run's token, and the audit of its fault API (see the module docstring)."""

    def __init__(
        self,
        write: Callable[[dict[str, Any]], None],
        now: Callable[[], int],
        *,
        prefix: str | None = None,
    ) -> None:
        self.token = secrets.token_urlsafe(32)
        self.write = write
        self.now = now
        self.prefix = prefix
        self.trail = AuditTrail(write, now, own_client=None)
        self.mode: WatchMode = "hook"
        self.proxy_client: ProxyClient | None = None
        self.reported: set[tuple[str, str, str]] = set()

    def __repr__(self) -> str:  # never the token
        return f"FaultApiWatch(mode={self.mode!r})"

    def server(self, seed: int, *, host: str = "127.0.0.1") -> ProxyServer:
        """The embedded run proxy: the token, upstreams on loopback only (a local run's
        nodes are all there), every change reported to the trail."""
        return ProxyServer(
            host, 0, seed, token=self.token, policy=Policy(allow_upstreams=()), on_change=self.trail
        )

    def client(
        self, url: str, mode: WatchMode, *, external_token: str | None = None
    ) -> ProxyClient:
        """The controller's client. An external proxy (``drift``) knows nothing of the
        run's token: it gets ``external_token``, if its owner gave one (a ``chaoskit
        proxy --token-file``)."""
        self.mode = mode
        client = ProxyClient(url, token=external_token if mode == "drift" else self.token)
        self.proxy_client = client
        self.trail.own_client = client.client_id
        return client

    async def check(self) -> None:
        """Record what others changed since the last check (nothing to do for ``hook``:
        the server reports at once)."""
        client = self.proxy_client
        if client is None or self.mode == "hook":
            return
        if self.mode == "pull":
            await self.trail.pull(client)
            return
        for drift in await client.drift(self.prefix):
            key = (drift.proxy, drift.field, json.dumps(drift.actual, sort_keys=True))
            if key not in self.reported:
                self.reported.add(key)
                self.write(drift.record(self.now()))

    def close(self) -> None:
        self.trail.close()
