"""A small aiohttp server for the nodes: bounded bodies, strict JSON, 4xx on bad input."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

MAX_BODY = 64 * 1024
MAX_DEPTH = 32
log = logging.getLogger("chaoskit.targets.node")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(ValueError):
    """Input a node refuses; answered with 400 and the message."""


def json_error(status: int, error: str, **extra: Any) -> web.Response:
    return web.json_response({"error": error, **extra}, status=status)


def _no_constants(name: str) -> Any:
    raise BadRequest(f"{name} is not JSON")


def _depth_ok(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


async def read_json(request: web.Request) -> Any:
    """The request body as JSON; ``BadRequest`` for anything else (413 if too big)."""
    raw = await request.read()
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(f"body is not JSON: {type(exc).__name__}") from exc
    if not _depth_ok(value):
        raise BadRequest(f"JSON nested deeper than {MAX_DEPTH}")
    return value


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BadRequest as exc:
        return json_error(400, str(exc))


def make_app() -> web.Application:
    """An application with the body limit and the BadRequest -> 400 middleware."""
    return web.Application(client_max_size=MAX_BODY, middlewares=[_errors])


async def serve(app: web.Application, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then close cleanly."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, reuse_address=True)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("listening on %s:%d", host, port)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
