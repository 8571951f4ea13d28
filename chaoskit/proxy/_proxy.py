"""One named proxy: a listening socket, its open links, and its toxics.

``enabled = False`` is the "cut" fault: the listener stops listening (new connections
are refused by the kernel) and every open link is reset. The port stays bound while
the proxy is disabled (``_parking``), so enabling listens on the same address again
and nothing else can take a port the kernel chose (listen port 0) in between.

Accepting is chaoskit's own loop on the listening socket, not ``loop.create_server``:
asyncio's answers a process out of file descriptors (``EMFILE``, after 11,000
connections through one proxy) with a traceback per failed accept. Here a proxy relays
at most ``max_links`` connections at once; past that it stops accepting until one
closes (back-pressure: clients wait in the kernel's listen queue, nobody is refused),
and running out of descriptors pauses accepting for ``ACCEPT_RETRY_S`` with one logged
line per episode.

A chaoskit extension, not in Toxiproxy: a source filter. With a ``classify``
function (which process opened this connection?) a proxy in front of one node can
reset or silently hold only the connections of some sources (``block_sources``),
which destination-mode networks need (chaoskit/network/sources.py).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
from collections.abc import Callable, Mapping

from chaoskit.errors import ProxyError
from chaoskit.proxy._link import CONNECT_RETRY, Admission, Link
from chaoskit.proxy._model import ProxyFields, join_hostport, split_hostport
from chaoskit.proxy._parking import park, unpark
from chaoskit.proxy._policy import Policy
from chaoskit.proxy._toxics import Stream, ToxicSpec

log = logging.getLogger("chaoskit.proxy")
#: Connections one proxy relays at once (each holds two descriptors).
MAX_LINKS = 1024
#: How long accepting pauses after the process ran out of descriptors.
ACCEPT_RETRY_S = 0.5
#: Accept errors that mean "out of resources now", not "this connection failed".
OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: The kernel's queue of connections not yet accepted.
BACKLOG = 512
#: Connections accepted per readiness event, so one busy proxy cannot starve the loop.
ACCEPT_BATCH = 64
#: A flood flaps (descriptors run out, links fail and free some, run out again): it is
#: one episode, logged once, until no accept failed for this long.
QUIET_S = 10.0

Address = tuple[str, int]
#: Names the source of a connection from its peer and local addresses (None: unknown).
Classify = Callable[[Address, Address], str | None]


def quiet_accept_errors(loop: asyncio.AbstractEventLoop, what: str) -> None:
    """Make asyncio's own servers on ``loop`` (the API's) report running out of
    descriptors at accept in one line per episode, as the proxies do, instead of a
    traceback per failed accept; every other error goes to the handler there was."""
    previous = loop.get_exception_handler()
    last: list[float] = []

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, object]) -> None:
        if context.get("message") != "socket.accept() out of system resource":
            if previous is not None:
                previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        now = loop.time()
        if not last or now - last[-1] > QUIET_S:
            log.warning(
                "%s: cannot accept connections: %s; retrying", what, context.get("exception")
            )
        last[:] = [now]

    loop.set_exception_handler(handler)


async def bind(listen: str) -> socket.socket:
    """A listening, non-blocking socket for ``host:port``; ProxyError if impossible."""
    host, port = split_hostport(listen, what="listen", allow_port_zero=True)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ProxyError(f"cannot listen on {listen}: {exc}", status=400) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ProxyError(f"listen address {listen} is already in use", status=409) from None
        raise ProxyError(f"cannot listen on {listen}: {exc.strerror}", status=400) from None
    return sock


class Proxy:
    """A Toxiproxy proxy: accepts on ``listen``, forwards each connection to ``upstream``."""

    def __init__(self, fields: ProxyFields, seed_key: str) -> None:
        self.name = fields.name
        self.listen = fields.listen
        self.upstream = fields.upstream
        self.enabled = False
        self.toxics: dict[str, ToxicSpec] = {}
        self.links: set[Link] = set()
        self.seed_key = seed_key
        self.serial = 0
        self.connect_retry = CONNECT_RETRY
        self.max_links = MAX_LINKS
        self._listener: socket.socket | None = None
        #: The listener of a disabled proxy, bound but not listening (``_parking``).
        self._parked: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._accepting = False
        self._retry: asyncio.TimerHandle | None = None
        self._starved_at: float | None = None
        self._handshakes: set[asyncio.Task[object]] = set()
        self.classify: Classify | None = None
        self.blocked: dict[str, Admission] = {}
        #: Checks the addresses an upstream *name* resolves to (the registry's policy).
        self.policy = Policy()

    @property
    def fields(self) -> ProxyFields:
        return ProxyFields(self.name, self.listen, self.upstream, self.enabled)

    def to_json(self) -> dict[str, object]:
        """The proxy in Toxiproxy's JSON shape, toxics included (upstream ones first)."""
        toxics = [spec.to_json() for spec in self.ordered_toxics()]
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": toxics,
        }

    def ordered_toxics(self) -> list[ToxicSpec]:
        return self.toxics_for("upstream") + self.toxics_for("downstream")

    def toxics_for(self, stream: Stream) -> list[ToxicSpec]:
        return [spec for spec in self.toxics.values() if spec.stream == stream]

    # -- listening ------------------------------------------------------------------
    async def start(self, sock: socket.socket | None = None) -> None:
        """Listen (on ``sock`` if already bound) and accept; no-op when enabled."""
        if self.enabled:
            if sock is not None:
                sock.close()
            return
        if sock is None:
            sock = self._unpark() or await bind(self.listen)
        host, port = sock.getsockname()[:2]
        self.listen = join_hostport(host, port)
        self._listener = sock
        self._loop = asyncio.get_running_loop()
        self.enabled = True
        self._accept_when_ready()

    # -- accepting, with a cap and back-pressure ---------------------------------------
    @property
    def open_links(self) -> int:
        """Connections relayed now, and accepted ones still being set up."""
        return len(self.links) + len(self._handshakes)

    def _accept_when_ready(self) -> None:
        """Watch the listener again, unless stopped, at the cap or waiting out EMFILE."""
        if self._listener is None or self._loop is None or self._accepting or self._retry:
            return
        if self.open_links >= self.max_links:
            return  # a finishing link calls back here
        self._loop.add_reader(self._listener.fileno(), self._accept)
        self._accepting = True

    def _pause_accepting(self) -> None:
        if self._accepting and self._listener is not None and self._loop is not None:
            self._loop.remove_reader(self._listener.fileno())
        self._accepting = False

    def _accept(self) -> None:
        """Accept what the kernel has queued, up to the cap."""
        assert self._listener is not None and self._loop is not None
        loop = self._loop
        for _ in range(ACCEPT_BATCH):
            if self.open_links >= self.max_links:
                self._pause_accepting()
                return
            try:
                conn, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in OUT_OF_RESOURCES:
                    self._starve(exc)
                # Otherwise the client gave up before we took it (ECONNABORTED): next.
                continue
            conn.setblocking(False)
            task = loop.create_task(loop.connect_accepted_socket(self.new_link, conn))
            self._handshakes.add(task)
            task.add_done_callback(functools.partial(self._handshake_done, conn=conn))

    def _starve(self, exc: OSError) -> None:
        """Out of descriptors: one line per episode, then try again in ``ACCEPT_RETRY_S``."""
        assert self._loop is not None
        now = self._loop.time()
        if self._starved_at is None or now - self._starved_at > QUIET_S:
            log.warning(
                "proxy %s: cannot accept connections: %s (%d open); "
                "retrying every %g s until some close",
                self.name,
                exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc)),
                self.open_links,
                ACCEPT_RETRY_S,
            )
        self._starved_at = now
        self._pause_accepting()
        self._retry = self._loop.call_later(ACCEPT_RETRY_S, self._retry_accept)

    def _retry_accept(self) -> None:
        self._retry = None
        self._accept_when_ready()

    def _handshake_done(self, task: asyncio.Task[object], *, conn: socket.socket) -> None:
        self._handshakes.discard(task)
        if task.cancelled() or task.exception() is not None:
            # Stopped before its transport was made, or the client left meanwhile: the
            # socket may belong to nobody yet, so close it here (twice is harmless).
            conn.close()
            if not task.cancelled():
                log.debug("proxy %s: connection lost at accept: %s", self.name, task.exception())
        self._accept_when_ready()

    def _link_finished(self, link: Link) -> None:
        self.links.discard(link)
        self._accept_when_ready()

    def new_link(self) -> asyncio.Protocol:
        self.serial += 1
        upstream = split_hostport(self.upstream, what="upstream", allow_port_zero=False)
        check = self.policy.resolved_allowed
        link = Link(
            upstream,
            self.toxics_for,
            f"{self.seed_key}/{self.name}/{self.serial}",
            self._link_finished,
            self.connect_retry,
            admit=self.admit if self.classify is not None else None,
            address_allowed=check if self.policy.resolved_check_needed(upstream[0]) else None,
        )
        self.links.add(link)
        return link.client

    def admit(self, link: Link) -> Admission:
        """Name a new connection's source and say whether its source is blocked."""
        self.identify(link)
        return self.blocked.get(link.source) if link.source is not None else None

    def identify(self, link: Link) -> None:
        transport = link.client.transport
        if self.classify is None or transport is None or link.source is not None:
            return
        peer, local = transport.get_extra_info("peername"), transport.get_extra_info("sockname")
        if peer and local:
            link.source = self.classify((peer[0], peer[1]), (local[0], local[1]))

    def block_sources(self, blocked: Mapping[str, Admission]) -> None:
        """Reset (``cut``) or hold (``hang``) these sources' connections, now and later;
        sources not named are relayed again."""
        self.blocked = {src: mode for src, mode in blocked.items() if mode is not None}
        for link in list(self.links):
            self.identify(link)
            mode = self.blocked.get(link.source) if link.source is not None else None
            if mode == "cut":
                link.reset()
            else:
                link.set_held(mode == "hang")

    def _unpark(self) -> socket.socket | None:
        holder, self._parked = self._parked, None
        return unpark(holder, BACKLOG) if holder is not None else None

    def stop(self, *, keep_port: bool = False) -> None:
        """Stop listening and reset every open connection; with ``keep_port`` the port
        stays bound for the next ``start`` (a disable), else it is released."""
        if self._parked is not None:
            self._parked.close()
            self._parked = None
        if self._listener is not None:
            self._pause_accepting()  # before closing: the descriptor may be reused at once
            if keep_port:
                self._parked = park(self._listener)
            else:
                self._listener.close()
            self._listener = None
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for task in list(self._handshakes):
            task.cancel()  # asyncio closes the half-made transport
        self.enabled = False
        for link in list(self.links):
            link.reset()
        self.links.clear()

    async def update(self, fields: ProxyFields) -> None:
        """Apply a new listen/upstream/enabled; moving restarts as Toxiproxy does.

        A new listen address is bound before anything stops, so a failure changes nothing.
        """
        if fields.listen != self.listen or fields.upstream != self.upstream:
            moving = fields.listen != self.listen and fields.enabled
            sock = await bind(fields.listen) if moving else None
            self.stop()
            self.listen, self.upstream = fields.listen, fields.upstream
            if fields.enabled:
                await self.start(sock)
            return
        if fields.enabled and not self.enabled:
            await self.start()
        elif not fields.enabled and self.enabled:
            self.stop(keep_port=True)

    # -- toxics -----------------------------------------------------------------------
    def set_toxic(self, spec: ToxicSpec) -> None:
        """Add or replace a toxic; open connections pick it up at once."""
        self.toxics[spec.name] = spec
        self.refresh_links()

    def remove_toxic(self, name: str) -> None:
        del self.toxics[name]
        self.refresh_links()

    def clear_toxics(self) -> None:
        self.toxics.clear()
        self.refresh_links()

    def refresh_links(self) -> None:
        for link in list(self.links):
            link.update_toxics()
