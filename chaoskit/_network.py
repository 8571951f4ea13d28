"""The Network part over a Toxiproxy-compatible API: a proxy per ordered pair of nodes.

Node ``a`` reaches node ``b`` only through the proxy ``a->b``, so every directed
link can be cut, hung or slowed on its own:

- ``cut``: the proxy is disabled, connections are refused and reset (peers notice
  at once);
- ``hang``: a ``timeout`` toxic of 0 on both streams, TCP stays up and nothing is
  relayed (peers notice only by their own time-outs);
- ``delay``: a ``latency`` toxic on the a->b stream.

The same code drives the embedded proxy and a real Toxiproxy given by URL.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence

from chaoskit._nemesis import LinkMode
from chaoskit._target import NodeInfo
from chaoskit.proxy import ProxyClient

Link = tuple[str, str]
_HANG = ("hang_upstream", "hang_downstream")
_DELAY = "delay_upstream"


class ProxyNetwork:
    """Per-direction link control between the nodes of one run."""

    def __init__(self, client: ProxyClient, run_id: str, listen_host: str = "127.0.0.1") -> None:
        self.client = client
        self.run_id = run_id
        self.listen_host = listen_host
        self._proxies: dict[Link, str] = {}
        self._cut: set[Link] = set()
        self._hung: set[Link] = set()
        self._delayed: set[Link] = set()

    async def setup(self, nodes: Sequence[NodeInfo]) -> dict[str, dict[str, tuple[str, int]]]:
        """Create a proxy for every ordered pair; return, per node, where to dial each peer."""
        peers: dict[str, dict[str, tuple[str, int]]] = {n.id: {} for n in nodes}
        for src in nodes:
            for dst in nodes:
                if src.id == dst.id:
                    continue
                name = f"ck-{self.run_id}-{src.id}-{dst.id}"
                info = await self.client.create_proxy(
                    name, listen=f"{self.listen_host}:0", upstream=f"{dst.host}:{dst.peer_port}"
                )
                self._proxies[(src.id, dst.id)] = name
                peers[src.id][dst.id] = (self.listen_host, info.listen_port)
        return peers

    def links(self) -> list[Link]:
        return sorted(self._proxies)

    async def cut(self, links: Sequence[Link], mode: LinkMode = "cut") -> None:
        for link in links:
            name = self._proxies[link]
            if mode == "cut" and link not in self._cut:
                await self.client.update_proxy(name, enabled=False)
                self._cut.add(link)
            elif mode == "hang" and link not in self._hung:
                for toxic in _HANG:
                    stream = toxic.removeprefix("hang_")
                    await self.client.add_toxic(
                        name, "timeout", stream=stream, name=toxic, attributes={"timeout": 0}
                    )
                self._hung.add(link)

    async def heal(self, links: Sequence[Link] | None = None) -> None:
        for link in self._select(links, self._cut | self._hung):
            name = self._proxies[link]
            if link in self._cut:
                await self.client.update_proxy(name, enabled=True)
                self._cut.discard(link)
            if link in self._hung:
                for toxic in _HANG:
                    await self.client.remove_toxic(name, toxic)
                self._hung.discard(link)

    async def delay(self, links: Sequence[Link], latency_ms: int, jitter_ms: int) -> None:
        for link in links:
            name = self._proxies[link]
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
            await self.client.remove_toxic(self._proxies[link], _DELAY)
            self._delayed.discard(link)

    async def heal_all(self) -> None:
        """Undo every fault this network applied (the final phase and every exit path)."""
        await self.heal()
        await self.undelay()

    def faulty_links(self) -> list[Link]:
        return sorted(self._cut | self._hung | self._delayed)

    async def close(self) -> None:
        """Delete this run's proxies (matters with a shared, real Toxiproxy)."""
        for name in self._proxies.values():
            with contextlib.suppress(Exception):  # best effort during teardown
                await self.client.delete_proxy(name)
        self._proxies.clear()

    @staticmethod
    def _select(links: Iterable[Link] | None, present: set[Link]) -> list[Link]:
        if links is None:
            return sorted(present)
        return [link for link in links if link in present]
