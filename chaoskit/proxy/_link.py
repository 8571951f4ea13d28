"""One proxied TCP connection: two sockets, two directions, each with its toxics.

Forwarding uses asyncio buffered Protocols directly (no StreamReader): each socket
is read into a buffer of its own, and with no toxic on a direction what was read is
written straight into the other socket's transport, without a copy. (A plain
Protocol would get a fresh 256 KiB bytes object for every read, however small: that
allocation, and the page faults of memory the allocator hands back and forth, were
the largest part of the proxy's cost per message and of its latency tail.) With
toxics, a chunk is copied and runs through the pure stages of ``_toxics`` at once, and
the events they schedule are carried out by event-loop timers. Nothing here awaits
except the upstream connect, so the proxy can share the controller's loop.

Flow control: a direction stops reading its source while the destination's write
buffer is above its high-water mark, or while more than ``BACKLOG_HIGH`` bytes wait
in its schedule (for example behind a bandwidth toxic), and resumes below the marks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable
from typing import Literal

from chaoskit.proxy._direction import Direction
from chaoskit.proxy._toxics import (
    Stream,
    ToxicSpec,
)

log = logging.getLogger("chaoskit.proxy")


class RefusedUpstream(Exception):
    """The upstream's name resolved to addresses the policy refuses (metadata)."""


WRITE_HIGH = 1 << 20
WRITE_LOW = 1 << 18
CONNECT_RETRY = 1.0  # seconds to keep retrying a refused upstream connect
READ_SIZE = 1 << 18  # bytes read from a socket at once (asyncio's own default)


def tune(transport: asyncio.BaseTransport) -> None:
    """TCP_NODELAY (no Nagle delay on small messages) and a roomier write buffer."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if isinstance(transport, asyncio.WriteTransport):
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)


def reset(transport: asyncio.BaseTransport) -> None:
    """Close with RST instead of FIN (SO_LINGER 0), so the peer sees a reset."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()


class Side(asyncio.BufferedProtocol, asyncio.Protocol):
    """One socket of a link; hands what it reads to the direction leaving it.

    A buffered protocol (transports see ``BufferedProtocol`` and read into
    ``get_buffer``); it is a ``Protocol`` too only for the proxy's type hints.
    """

    def __init__(self, link: Link, role: Literal["client", "server"]) -> None:
        self.link = link
        self.role = role
        self.transport: asyncio.Transport | None = None
        self.write_paused = False
        self.view = memoryview(bytearray(READ_SIZE))
        #: Bytes (and EOF) read before the link could forward them: ``pause_reading``
        #: in ``connection_made`` does not hold on every 3.11 patch release.
        self.early: list[bytes] = []
        self.early_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        tune(transport)
        self.link.side_made(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        data = self.view[:nbytes]
        direction = self.link.outbound_if_ready(self)
        if direction is None:
            self.early.append(bytes(data))
        elif direction.feed(data):
            # The destination kept a reference to the buffer (a transport that queues
            # memoryviews instead of copying): read into a fresh one from now on.
            self.view = memoryview(bytearray(READ_SIZE))

    def eof_received(self) -> bool:
        direction = self.link.outbound_if_ready(self)
        if direction is None:
            self.early_eof = True
        else:
            direction.feed_eof()
        return True  # keep the socket open: the other direction may still flow

    def flush_early(self, direction: Direction) -> None:
        """Forward what arrived before the link was ready."""
        early, self.early = self.early, []
        for chunk in early:
            direction.feed(chunk)
        if self.early_eof:
            self.early_eof = False
            direction.feed_eof()

    def pause_writing(self) -> None:
        self.write_paused = True
        self.link.inbound(self).update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.link.inbound(self).update_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.side_lost(self, exc)


ToxicsFor = Callable[[Stream], list[ToxicSpec]]
#: What a source filter says of a new connection: relay it, reset it, or hold it silently.
Admission = Literal["cut", "hang"] | None
#: The toxic that holds a connection whose source is hung (a "timeout" of 0: never close).
SOURCE_HANG = "chaoskit_source_hang"


def hang_spec(stream: Stream) -> ToxicSpec:
    return ToxicSpec(SOURCE_HANG, "timeout", stream=stream, attributes={"timeout": 0})


class Link:
    """A client connection accepted by a proxy and its connection to the upstream."""

    def __init__(
        self,
        upstream: tuple[str, int],
        toxics_for: ToxicsFor,
        seed_key: str,
        on_finished: Callable[[Link], None],
        connect_retry: float = CONNECT_RETRY,
        admit: Callable[[Link], Admission] | None = None,
        address_allowed: Callable[[str], bool] | None = None,
    ) -> None:
        self.upstream = upstream
        self.toxics_for = toxics_for
        self.seed_key = seed_key
        self.on_finished = on_finished
        self.connect_retry = connect_retry
        self.client = Side(self, "client")
        self.server = Side(self, "server")
        self.up: Direction | None = None
        self.down: Direction | None = None
        self.connector: asyncio.Task[None] | None = None
        self.finished = False
        #: The source filter's say on this connection (destination-mode proxies only).
        self.admit = admit
        self.source: str | None = None
        self.held = False
        #: For an upstream given by name: may its resolved address be dialled?
        self.address_allowed = address_allowed

    def outbound(self, side: Side) -> Direction:
        direction = self.outbound_if_ready(side)
        assert direction is not None
        return direction

    def outbound_if_ready(self, side: Side) -> Direction | None:
        return self.up if side is self.client else self.down

    def inbound(self, side: Side) -> Direction:
        direction = self.down if side is self.client else self.up
        assert direction is not None
        return direction

    # -- lifecycle -----------------------------------------------------------------
    def side_made(self, side: Side) -> None:
        assert side.transport is not None
        if side is self.client:
            side.transport.pause_reading()  # nothing to forward to until upstream is up
            verdict = self.admit(self) if self.admit is not None else None
            if verdict == "cut":
                self.reset()
                return
            self.held = verdict == "hang"
            self.connector = asyncio.get_running_loop().create_task(self.connect())
        elif self.finished or self.client.transport is None:
            side.transport.close()
        else:
            self.start_forwarding()

    def start_forwarding(self) -> None:
        """Both sockets are up: build the directions with the current toxics."""
        self.up = Direction(self, "upstream", self.client, self.server)
        self.down = Direction(self, "downstream", self.server, self.client)
        self.up.set_toxics(self.current_toxics("upstream"))
        self.down.set_toxics(self.current_toxics("downstream"))
        self.client.flush_early(self.up)
        self.server.flush_early(self.down)
        if not self.finished and self.client.transport is not None:
            self.client.transport.resume_reading()
            self.up.update_reading()

    async def connect(self) -> None:
        """Dial the upstream, retrying refusals briefly (a node may be restarting).

        Giving up resets the client: "connected, then EOF" would look like a peer that
        accepted and hung up, which some systems treat worse than a refusal.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.connect_retry
        pause = 0.02
        while not self.finished:
            try:
                host, port = await self.destination()
                await loop.create_connection(lambda: self.server, host, port)
                return
            except RefusedUpstream:
                self.reset()
                return
            except OSError:
                if loop.time() + pause > deadline:
                    self.reset()
                    return
                await asyncio.sleep(pause)
                pause = min(pause * 2, 0.2)

    async def destination(self) -> tuple[str, int]:
        """Where to dial: the upstream as given, or, for a name whose addresses are
        checked, the first allowed address it resolves to (resolving here and dialling
        the address leaves no second lookup that could answer differently).
        ``RefusedUpstream`` when the name resolves to refused addresses only."""
        host, port = self.upstream
        if self.address_allowed is None:
            return host, port
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        for _family, _kind, _proto, _name, address in infos:
            if self.address_allowed(str(address[0])):
                return str(address[0]), port
        log.warning("upstream %s:%d resolves to refused addresses only", host, port)
        raise RefusedUpstream(f"upstream {host} resolves to refused addresses only")

    def update_toxics(self) -> None:
        """The proxy's toxics changed: apply them to this open connection."""
        if self.finished:
            return
        for direction in (self.up, self.down):
            if direction is not None and not direction.done:
                direction.set_toxics(self.current_toxics(direction.stream))

    def current_toxics(self, stream: Stream) -> list[ToxicSpec]:
        """The proxy's toxics, plus a silent hold while this connection's source is hung."""
        specs = self.toxics_for(stream)
        return [*specs, hang_spec(stream)] if self.held else specs

    def set_held(self, held: bool) -> None:
        """Hold (or release) this connection silently, as a ``hang`` of its source."""
        if held != self.held:
            self.held = held
            self.update_toxics()

    def direction_done(self) -> None:
        """Both ends half-closed: the connection is over."""
        if self.up is not None and self.down is not None and self.up.done and self.down.done:
            self.close()

    def side_lost(self, side: Side, exc: Exception | None) -> None:
        """A socket went away; an error (such as a reset) is passed on as a reset."""
        side.transport = None
        if exc is not None:
            self.reset()
        else:
            self.close()

    def close(self) -> None:
        """Close both sockets after their buffered data is written (FIN)."""
        self._finish()
        for side in (self.client, self.server):
            if side.transport is not None and not side.transport.is_closing():
                side.transport.close()

    def reset(self) -> None:
        """Abort both sockets with RST: what a peer sees when a link is cut."""
        self._finish()
        for side in (self.client, self.server):
            if side.transport is not None:
                reset(side.transport)

    def _finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        for direction in (self.up, self.down):
            if direction is not None:
                direction.stop()
        if self.connector is not None and not self.connector.done():
            self.connector.cancel()
        self.on_finished(self)
