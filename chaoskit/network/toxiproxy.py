"""The Network part over a Toxiproxy-compatible API: a proxy per ordered pair of nodes.

Node ``a`` reaches node ``b`` only through the proxy ``a->b``, so every directed
link can be cut, hung or slowed on its own:

- ``cut``: the proxy is disabled, connections are refused and reset (peers notice
  at once);
- ``hang``: a ``timeout`` toxic of 0 on both streams, TCP stays up and nothing is
  relayed (peers notice only by their own time-outs);
- ``delay``: a ``latency`` toxic on the a->b stream.

The same code drives the embedded proxy and a real Toxiproxy given by URL.

A target whose nodes talk on several peer ports (ZooKeeper: quorum and election)
gets one proxy per ordered pair per peer port; a link's faults then apply to every
proxy of that pair.

A target that identifies peers by the address they dial (etcd: every member dials
the one advertised peer URL of a member) says ``proxy_mode = "destination"``: then
there is one proxy in front of each node per peer port, every node gets the same
address map (its own entry included, for the address it advertises), and cutting
a->b tells the proxies in front of b to reset (``cut``) or silently hold (``hang``)
the connections that a opened. Telling sources apart is an embedded-proxy extension
(chaoskit/network/sources.py); with a real Toxiproxy such cuts raise ``ConfigError``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any, Protocol

from chaoskit.core.network import LinkMode
from chaoskit.core.target import Address, NodeInfo, ProxyMode
from chaoskit.errors import ConfigError
from chaoskit.proxy import ProxyClient

Link = tuple[str, str]
#: Per node, per peer, per peer-port name, the address to dial (``setup``).
NamedPeers = dict[str, dict[str, dict[str, Address]]]
_HANG = ("hang_upstream", "hang_downstream")
_DELAY = "delay_upstream"


class SourceFilter(Protocol):
    """Per-source blocking on one proxy (the embedded ``ProxyServer`` provides it)."""

    async def block_sources(self, name: str, blocked: Mapping[str, LinkMode]) -> None: ...


class ProxyNetwork:
    """Per-direction link control between the nodes of one run."""

    def __init__(
        self,
        client: ProxyClient,
        run_id: str,
        listen_host: str = "127.0.0.1",
        *,
        mode: ProxyMode = "pair",
        sources: SourceFilter | None = None,
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.listen_host = listen_host
        self.mode = mode
        self.sources = sources
        #: Destination mode: the proxies in front of each node (one per port), by node id.
        self._fronts: dict[str, list[str]] = {}
        self._ids: list[str] = []
        self._proxies: dict[Link, list[str]] = {}
        self._cut: set[Link] = set()
        self._hung: set[Link] = set()
        self._delayed: set[Link] = set()

    async def setup(
        self, nodes: Sequence[NodeInfo], peer_ports: Sequence[str] | None = None
    ) -> NamedPeers:
        """Create the proxies of every ordered pair (or of every node, in destination
        mode) for each of ``peer_ports`` (default: each node's first port).

        Returns, per node, per peer, per port name, where to dial. In destination mode
        a node's own entry is there too: the proxies in front of it, which it must
        advertise. Proxy names end in the port's name when there are several.
        """
        names = list(peer_ports) if peer_ports else [next(iter(nodes[0].ports))]
        self._ids = [n.id for n in nodes]
        if self.mode == "destination":
            return await self._setup_fronts(nodes, names)
        links = [
            (src, dst, kind) for src in nodes for dst in nodes if src.id != dst.id for kind in names
        ]
        # All at once: one at a time, 72 proxies of 9 nodes took a second of start-up.
        ports = await _together(
            [
                self._create(
                    (src.id, dst.id),
                    f"ck-{self.run_id}-{src.id}-{dst.id}" + _suffix(kind, names),
                    f"{dst.host}:{dst.ports[kind]}",
                )
                for src, dst, kind in links
            ]
        )
        peers: NamedPeers = {n.id: {} for n in nodes}
        for (src, dst, kind), port in zip(links, ports, strict=True):
            peers[src.id].setdefault(dst.id, {})[kind] = (self.listen_host, port)
        return peers

    async def _create(self, link: Link, name: str, upstream: str) -> int:
        info = await self.client.create_proxy(
            name, listen=f"{self.listen_host}:0", upstream=upstream
        )
        self._proxies.setdefault(link, []).append(name)
        return info.listen_port

    def links(self) -> list[Link]:
        if self.mode == "destination":
            return [(a, b) for a in self._ids for b in self._ids if a != b]
        return sorted(self._proxies)

    async def cut(self, links: Sequence[Link], mode: LinkMode = "cut") -> None:
        if self.mode == "destination":
            await self._cut_sources(links, mode)
            return
        for link in links:
            names = self._proxies[link]
            if mode == "cut" and link not in self._cut:
                for name in names:
                    await self.client.update_proxy(name, enabled=False)
                self._cut.add(link)
            elif mode == "hang" and link not in self._hung:
                for name in names:
                    for toxic in _HANG:
                        stream = toxic.removeprefix("hang_")
                        await self.client.add_toxic(
                            name, "timeout", stream=stream, name=toxic, attributes={"timeout": 0}
                        )
                self._hung.add(link)

    async def heal(self, links: Sequence[Link] | None = None) -> None:
        if self.mode == "destination":
            healed = self._select(links, self._cut | self._hung)
            self._cut.difference_update(healed)
            self._hung.difference_update(healed)
            await self._push_sources({dst for _, dst in healed})
            return
        for link in self._select(links, self._cut | self._hung):
            names = self._proxies[link]
            if link in self._cut:
                for name in names:
                    await self.client.update_proxy(name, enabled=True)
                self._cut.discard(link)
            if link in self._hung:
                for name in names:
                    for toxic in _HANG:
                        await self.client.remove_toxic(name, toxic)
                self._hung.discard(link)

    async def delay(self, links: Sequence[Link], latency_ms: int, jitter_ms: int) -> None:
        if self.mode == "destination":
            raise ConfigError("latency faults need a proxy per pair; this target has one per node")
        for link in links:
            for name in self._proxies[link]:
                if link in self._delayed:
                    await self.client.remove_toxic(name, _DELAY)
                await self.client.add_toxic(
                    name,
                    "latency",
                    stream="upstream",
                    name=_DELAY,
                    attributes={"latency": latency_ms, "jitter": jitter_ms},
                )
            self._delayed.add(link)

    async def undelay(self, links: Sequence[Link] | None = None) -> None:
        for link in self._select(links, self._delayed):
            for name in self._proxies[link]:
                await self.client.remove_toxic(name, _DELAY)
            self._delayed.discard(link)

    async def heal_all(self) -> None:
        """Undo every fault this network applied (the final phase and every exit path)."""
        await self.heal()
        await self.undelay()

    def faulty_links(self) -> list[Link]:
        return sorted(self._cut | self._hung | self._delayed)

    def proxy_names(self) -> list[str]:
        """Every proxy this network drives, sorted (the registry of runs records them)."""
        names = {n for group in self._proxies.values() for n in group}
        return sorted(names | {n for group in self._fronts.values() for n in group})

    async def close(self) -> None:
        """Delete this run's proxies (matters with a shared, real Toxiproxy)."""
        for name in (n for names in self._fronts.values() for n in names):
            with contextlib.suppress(Exception):  # best effort during teardown
                await self.client.delete_proxy(name)
        self._fronts.clear()
        for names in self._proxies.values():
            for name in names:
                with contextlib.suppress(Exception):  # best effort during teardown
                    await self.client.delete_proxy(name)
        self._proxies.clear()

    # -- destination mode --------------------------------------------------------------

    async def _setup_fronts(self, nodes: Sequence[NodeInfo], names: list[str]) -> NamedPeers:
        """One proxy in front of each node per peer port; every node dials every node
        (itself too, for the address it advertises) there."""
        fronts: dict[str, dict[str, Address]] = {}
        for dst in nodes:
            fronts[dst.id] = {}
            for kind in names:
                name = f"ck-{self.run_id}-to-{dst.id}" + _suffix(kind, names)
                info = await self.client.create_proxy(
                    name, listen=f"{self.listen_host}:0", upstream=f"{dst.host}:{dst.ports[kind]}"
                )
                self._fronts.setdefault(dst.id, []).append(name)
                fronts[dst.id][kind] = (self.listen_host, info.listen_port)
        return {n.id: {nid: dict(f) for nid, f in fronts.items()} for n in nodes}

    async def _cut_sources(self, links: Sequence[Link], mode: LinkMode) -> None:
        if self.sources is None:
            raise ConfigError(
                "this target needs per-source link cuts (one proxy per node), which only "
                "the embedded proxy can do: run without --toxiproxy-url"
            )
        for link in links:
            if link not in self.links():
                raise ConfigError(f"no link {link[0]}->{link[1]} in this network")
            (self._cut if mode == "cut" else self._hung).add(link)
            (self._hung if mode == "cut" else self._cut).discard(link)
        await self._push_sources({dst for _, dst in links})

    async def _push_sources(self, dsts: Iterable[str]) -> None:
        """Tell the proxy in front of each of ``dsts`` which sources to block, and how."""
        if self.sources is None:
            return
        for dst in sorted(dsts):
            blocked: dict[str, LinkMode] = {a: "hang" for a, b in self._hung if b == dst}
            blocked.update({a: "cut" for a, b in self._cut if b == dst})
            for name in self._fronts[dst]:
                await self.sources.block_sources(name, blocked)

    @staticmethod
    def _select(links: Iterable[Link] | None, present: set[Link]) -> list[Link]:
        if links is None:
            return sorted(present)
        return [link for link in links if link in present]


def _suffix(kind: str, names: list[str]) -> str:
    """A proxy's name tells its port apart only when a node has several peer ports."""
    return f"-{kind}" if len(names) > 1 else ""


async def _together(creations: list[Coroutine[Any, Any, int]]) -> list[int]:
    """Run the proxy creations at once; the first failure is raised (as itself, not in a
    group) once every other creation has finished or been cancelled."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in creations]
    except BaseExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [t.result() for t in tasks]
