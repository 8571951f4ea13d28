"""The gate of the fault API: who may ask, and the audit of what was asked.

Every request passes these checks in order; the first that fails answers with
Toxiproxy's JSON error shape and nothing changes:

1. peer address in ``Policy.allow_clients`` (when set)           403
2. ``Host`` a loopback name or an allowed one (DNS rebinding)    421 Misdirected Request
3. no browser: no ``Origin`` unless allowed, no ``Mozilla/`` agent 403
4. the token, when the server has one (``Authorization: Bearer``) 401
5. POST/PATCH/PUT bodies declared ``application/json``           415

Why 5 matters: a web page can send a cross-site POST without a CORS preflight only
as a "simple request" (``text/plain``, form types); requiring JSON makes the browser
ask first, and this server never says yes. It also catches what 3 might miss.

Then the handler runs, and every mutating request (refused or not) is reported as an
``ApiChange`` to the change log and the ``on_change`` hook (chaoskit/proxy/_audit.py).
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

from chaoskit.proxy._audit import MUTATING, ApiChange, ChangeLog, summarize_body
from chaoskit.proxy._policy import Policy

log = logging.getLogger("chaoskit.proxy")

#: Sent by ``ProxyClient``: tells the controller's own requests apart in the audit.
CLIENT_HEADER = "X-Chaoskit-Client"
JSON_TYPE = "application/json"
MAX_AUDITED_BODY = 1 << 20

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OnChange = Callable[[ApiChange], None]


def refusal(message: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status, headers=headers)


def bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison, so response timing does not reveal the token."""
    return given is not None and hmac.compare_digest(given.encode(), token.encode())


class Guard:
    """The checks above and the audit, as one aiohttp middleware (``self.middleware``)."""

    def __init__(
        self,
        policy: Policy,
        token: str | None,
        on_change: OnChange | None = None,
        changes: ChangeLog | None = None,
    ) -> None:
        self.policy = policy
        self.token = token
        self.on_change = on_change
        self.changes = changes if changes is not None else ChangeLog()

    def refuse(self, request: web.Request) -> web.Response | None:
        """The first check this request fails, as its answer; None if it passes all."""
        policy = self.policy
        if not policy.client_allowed(request.remote):
            return refusal(f"client {request.remote} is not allowed to use this API", 403)
        problem = policy.host_problem(request.headers.get("Host"))
        if problem:
            return refusal(problem, 421)
        problem = policy.origin_problem(request.headers.get("Origin"))
        if problem:
            return refusal(problem, 403)
        if request.headers.get("User-Agent", "").startswith("Mozilla/"):
            return refusal("User agent not allowed", 403)
        if self.token is not None and not token_matches(bearer(request), self.token):
            return refusal(
                "missing or wrong token (Authorization: Bearer ...)",
                401,
                {"WWW-Authenticate": 'Bearer realm="chaoskit"'},
            )
        if request.method in MUTATING and not self.json_declared(request):
            return refusal(f"request bodies must be {JSON_TYPE}", 415)
        return None

    @staticmethod
    def json_declared(request: web.Request) -> bool:
        """A body is JSON by its declared type; no type is fine only with no body
        (``POST /reset``, as toxiproxy-python sends it)."""
        if "Content-Type" in request.headers:
            return request.content_type == JSON_TYPE
        return not request.body_exists

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        received = time.monotonic_ns()
        refused = self.refuse(request)
        response = refused if refused is not None else await handler(request)
        if request.method in MUTATING:
            await self.audit(request, response.status, received)
        return response

    async def audit(self, request: web.Request, status: int, received: int) -> None:
        change = ApiChange(
            seq=self.changes.next_seq(),
            method=request.method,
            path=request.path,
            status=status,
            body=summarize_body(await self.body_of(request)),
            authenticated=None
            if self.token is None
            else token_matches(bearer(request), self.token),
            client=request.headers.get(CLIENT_HEADER),
            peer=peer_of(request),
            host=request.headers.get("Host"),
            origin=request.headers.get("Origin"),
            user_agent=request.headers.get("User-Agent"),
            monotonic_ns=received,
        )
        self.changes.add(change)
        if self.on_change is not None:
            try:
                self.on_change(change)
            except Exception:  # a broken hook must not turn into a failed request
                log.exception("the on_change hook failed for %s %s", change.method, change.path)

    @staticmethod
    async def body_of(request: web.Request) -> bytes:
        """The body (already read and cached by the handler, if it got that far)."""
        if request.content_length is not None and request.content_length > MAX_AUDITED_BODY:
            return f"<{request.content_length} bytes>".encode()
        try:
            return await request.read()
        except (web.HTTPException, ConnectionError, ValueError):
            return b""


def peer_of(request: web.Request) -> str | None:
    """``address:port`` of the connection's other end (``[v6]:port`` for IPv6)."""
    transport = request.transport
    peer = transport.get_extra_info("peername") if transport is not None else None
    if not peer:
        return request.remote
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
