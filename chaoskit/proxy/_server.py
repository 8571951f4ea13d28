"""The Toxiproxy 2.x HTTP API on aiohttp, and the server object that owns it.

Routes, status codes and JSON bodies follow Toxiproxy (201 on create and populate,
204 on delete and reset, ``{"error": ..., "status": ...}`` on failure), so any
Toxiproxy client works against it. Who may call it (token, Host, Origin, JSON
bodies, client addresses) is decided by the guard in front of every route
(chaoskit/proxy/_guard.py); what may be asked (listen and upstream addresses) by the
policy the registry applies (chaoskit/proxy/_policy.py). One extra route, not in
Toxiproxy: ``GET /chaoskit/changes?after=N``, the audit of mutating requests.

Example::

    server = ProxyServer(port=0, seed=7, token=secrets.token_urlsafe(32))
    await server.start()
    ...                      # ProxyClient(server.url, token=...) drives it
    await server.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web

from chaoskit.errors import ConfigError, ProxyError, SetupError
from chaoskit.proxy._guard import Guard, OnChange
from chaoskit.proxy._link import Admission
from chaoskit.proxy._policy import Policy, is_loopback
from chaoskit.proxy._proxy import Classify, quiet_accept_errors
from chaoskit.proxy._registry import Registry

log = logging.getLogger("chaoskit.proxy")

#: Toxiproxy API level this server implements; "+chaoskit" marks the embedded server.
VERSION = "2.9.0+chaoskit"
MAX_BODY = 1 << 20  # bodies are a few hundred bytes; a megabyte is already hostile
MIN_TOKEN_CHARS = 16  # shorter tokens could be guessed; token_urlsafe(32) gives 43

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(message: str, status: int) -> web.Response:
    return web.json_response({"error": message, "status": status}, status=status)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure becomes Toxiproxy's JSON error; nothing escapes as a 500 page."""
    try:
        return await handler(request)
    except ProxyError as exc:
        return error_response(str(exc), exc.status or 500)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.reason.lower(), exc.status)
    except Exception as exc:  # a bug in chaoskit: keep the server up, say what broke
        log.exception("internal error in %s %s", request.method, request.path)
        return error_response(f"internal error: {exc!r}", 500)


async def body(request: web.Request) -> Any:
    """The request's JSON body, or Toxiproxy's "bad request body" (413 when huge)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ProxyError(f"request body too large (limit {MAX_BODY} bytes)", status=413)
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise ProxyError(f"request body too large (limit {MAX_BODY} bytes)", status=413) from None
    if not raw.strip():
        raise ProxyError("bad request body: EOF", status=400)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise ProxyError(f"bad request body: {exc}", status=400) from None


def make_app(registry: Registry, guard: Guard | None = None) -> web.Application:
    """The aiohttp application serving the Toxiproxy API over ``registry``.

    ``guard`` (outermost, so refusals and errors alike are audited) defaults to the
    standalone rules: no token, loopback Host names, the registry's policy.
    """
    guard = guard if guard is not None else Guard(registry.policy, token=None)
    app = web.Application(middlewares=[guard.middleware, errors], client_max_size=MAX_BODY)

    def name(request: web.Request, key: str = "proxy") -> str:
        return request.match_info[key]

    async def proxy_index(request: web.Request) -> web.Response:
        return web.json_response(registry.index())

    async def proxy_create(request: web.Request) -> web.Response:
        proxy = await registry.create(await body(request))
        return web.json_response(proxy.to_json(), status=201)

    async def populate(request: web.Request) -> web.Response:
        proxies = await registry.populate(await body(request))
        return web.json_response({"proxies": [p.to_json() for p in proxies]}, status=201)

    async def proxy_show(request: web.Request) -> web.Response:
        return web.json_response(registry.get(name(request)).to_json())

    async def proxy_update(request: web.Request) -> web.Response:
        proxy = await registry.update(name(request), await body(request))
        return web.json_response(proxy.to_json())

    async def proxy_delete(request: web.Request) -> web.Response:
        await registry.delete(name(request))
        return web.Response(status=204)

    async def toxic_index(request: web.Request) -> web.Response:
        specs = registry.get(name(request)).ordered_toxics()
        return web.json_response([spec.to_json() for spec in specs])

    async def toxic_create(request: web.Request) -> web.Response:
        proxy = name(request)
        registry.get(proxy)  # 404 for an unknown proxy before looking at the body
        return web.json_response(await registry.add_toxic(proxy, await body(request)))

    async def toxic_show(request: web.Request) -> web.Response:
        return web.json_response(registry.get_toxic(name(request), name(request, "toxic")))

    async def toxic_update(request: web.Request) -> web.Response:
        proxy, toxic = name(request), name(request, "toxic")
        registry.get_toxic(proxy, toxic)
        return web.json_response(await registry.update_toxic(proxy, toxic, await body(request)))

    async def toxic_delete(request: web.Request) -> web.Response:
        await registry.remove_toxic(name(request), name(request, "toxic"))
        return web.Response(status=204)

    async def reset(request: web.Request) -> web.Response:
        await registry.reset()
        return web.Response(status=204)

    async def version(request: web.Request) -> web.Response:
        return web.json_response({"version": VERSION})

    async def changes(request: web.Request) -> web.Response:
        after = request.query.get("after", "0")
        if not after.isdigit():
            raise ProxyError("bad request: 'after' must be a non-negative integer", status=400)
        return web.json_response(guard.changes.since(int(after)))

    app.router.add_post("/reset", reset)
    app.router.add_get("/proxies", proxy_index)
    app.router.add_post("/proxies", proxy_create)
    app.router.add_post("/populate", populate)
    app.router.add_get("/proxies/{proxy}", proxy_show)
    app.router.add_post("/proxies/{proxy}", proxy_update)
    app.router.add_patch("/proxies/{proxy}", proxy_update)
    app.router.add_delete("/proxies/{proxy}", proxy_delete)
    app.router.add_get("/proxies/{proxy}/toxics", toxic_index)
    app.router.add_post("/proxies/{proxy}/toxics", toxic_create)
    app.router.add_get("/proxies/{proxy}/toxics/{toxic}", toxic_show)
    app.router.add_post("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    app.router.add_patch("/proxies/{proxy}/toxics/{toxic}", toxic_update)
    app.router.add_delete("/proxies/{proxy}/toxics/{toxic}", toxic_delete)
    app.router.add_get("/version", version)
    app.router.add_get("/chaoskit/changes", changes)
    return app


class ProxyServer:
    """The embedded Toxiproxy-compatible server, running in the current event loop.

    Binds to loopback unless told otherwise; ``port=0`` picks a free port (see
    ``port``/``url`` after ``start``). ``seed`` makes jitter, slicer and toxicity draws
    reproducible: connection k of proxy p always draws the same sequence.

    ``token``: every request must carry ``Authorization: Bearer <token>`` (a run's
    proxy always has one; the standalone ``chaoskit proxy`` only when asked).
    ``policy``: what beyond loopback is allowed (``Policy``; the default allows
    loopback Host names, no Origin, loopback listen addresses, any upstream but
    link-local/metadata ones, any client address). A non-loopback ``host`` needs
    ``policy.allow_remote_listen``. ``on_change`` is called with an ``ApiChange`` for
    every mutating request, refused ones included (see chaoskit/proxy/_audit.py).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8474,
        seed: int = 0,
        *,
        token: str | None = None,
        policy: Policy | None = None,
        on_change: OnChange | None = None,
    ) -> None:
        policy = policy if policy is not None else Policy()
        if not (policy.allow_remote_listen or is_loopback(host)):
            raise ConfigError(
                f"refusing to serve the fault API on {host}, which is not loopback: "
                "allow remote listening explicitly (chaoskit proxy --allow-remote-listen)"
            )
        if token is not None and len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(f"a fault API token needs at least {MIN_TOKEN_CHARS} characters")
        self.host = host
        self.policy = policy.with_host(host)
        self.registry = Registry(seed, self.policy)
        self.guard = Guard(self.policy, token, on_change)
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def requires_token(self) -> bool:
        return self.guard.token is not None

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}"

    def seed(self, value: int) -> None:
        """Reseed the random draws of connections accepted from now on."""
        self.registry.seed(value)

    def classify_sources(self, classify: Classify | None) -> None:
        """Name each accepted connection's source with ``classify(peer, local)``.

        An in-process extension (no HTTP route, no Toxiproxy equivalent): it enables
        ``block_sources``, which destination-mode networks use to cut one source.
        """
        self.registry.set_classifier(classify)

    async def block_sources(self, name: str, blocked: Mapping[str, Admission]) -> None:
        """Reset (``cut``) or silently hold (``hang``) the named sources' connections to
        proxy ``name``, open and future; every source not named is relayed again."""
        await self.registry.block_sources(name, blocked)

    async def start(self) -> None:
        """Start serving the API; SetupError if the address cannot be bound."""
        app = make_app(self.registry, self.guard)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise SetupError(
                f"cannot serve the proxy API on {self.host}:{self._port}: {exc.strerror}"
            ) from None
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Stop the API and every proxy, closing all listeners and connections."""
        await self.registry.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def _serve_until_stopped(server: ProxyServer, seed: int) -> None:
    quiet_accept_errors(asyncio.get_running_loop(), "proxy API")  # one line on EMFILE
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    access = "token required" if server.requires_token else "no token: loopback clients only"
    print(f"chaoskit proxy: Toxiproxy API on {server.url} (seed {seed}, {access})", flush=True)
    try:
        await stop.wait()
    finally:
        await server.close()


def serve(
    host: str = "127.0.0.1",
    port: int = 8474,
    seed: int = 0,
    *,
    token: str | None = None,
    policy: Policy | None = None,
) -> None:
    """Run the proxy server in the foreground until Ctrl-C or SIGTERM (for the CLI)."""
    server = ProxyServer(host, port, seed, token=token, policy=policy)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_until_stopped(server, seed))
