"""The set of proxies and the Toxiproxy semantics of every API operation.

The HTTP layer only decodes JSON and maps errors to responses; what each endpoint
means (which status for which mistake, what populate replaces, what reset restores)
lives here. One lock serializes changes, because binding a socket awaits and two
requests must not interleave halfway through a change. Every listen and upstream
address is checked against the ``Policy`` before anything changes (403 otherwise).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping
from typing import Any

from chaoskit.errors import ProxyError
from chaoskit.proxy._link import Admission
from chaoskit.proxy._model import (
    ProxyFields,
    parse_populate,
    parse_proxy_create,
    parse_proxy_update,
    parse_toxic_create,
    parse_toxic_update,
)
from chaoskit.proxy._policy import Policy
from chaoskit.proxy._proxy import Classify, Proxy, bind


def not_found() -> ProxyError:
    return ProxyError("proxy not found", status=404)


class Registry:
    """Every proxy by name, and the operations of the Toxiproxy API on them."""

    def __init__(self, seed: int = 0, policy: Policy | None = None) -> None:
        self.policy = policy if policy is not None else Policy()
        self.proxies: dict[str, Proxy] = {}
        self.lock = asyncio.Lock()
        self.seed_value = seed
        self.epoch = 0  # bumped by seed(): proxies made after it draw from the new seed
        self.classify: Classify | None = None

    def seed(self, value: int) -> None:
        """Reseed jitter, slicer and toxicity draws for connections accepted from now."""
        self.seed_value = value
        self.epoch += 1
        for proxy in self.proxies.values():
            proxy.seed_key = self.seed_key()
            proxy.serial = 0

    def seed_key(self) -> str:
        return f"{self.seed_value}#{self.epoch}"

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise not_found()
        return proxy

    def index(self) -> dict[str, Any]:
        return {name: proxy.to_json() for name, proxy in self.proxies.items()}

    # -- proxies -------------------------------------------------------------------
    def allowed(self, fields: ProxyFields) -> ProxyFields:
        """``fields`` if the policy accepts its listen and upstream; ProxyError 403 if not."""
        self.policy.check_listen(fields.listen)
        self.policy.check_upstream(fields.upstream)
        return fields

    def new_proxy(self, fields: ProxyFields) -> Proxy:
        proxy = Proxy(fields, self.seed_key())
        proxy.classify = self.classify
        proxy.policy = self.policy
        return proxy

    async def create(self, body: Any) -> Proxy:
        fields = self.allowed(parse_proxy_create(body))
        async with self.lock:
            if fields.name in self.proxies:
                raise ProxyError("proxy already exists", status=409)
            proxy = self.new_proxy(fields)
            if fields.enabled:
                await proxy.start()
            self.proxies[fields.name] = proxy
            return proxy

    async def update(self, name: str, body: Any) -> Proxy:
        async with self.lock:
            proxy = self.get(name)
            await proxy.update(self.allowed(parse_proxy_update(body, proxy.fields)))
            return proxy

    async def delete(self, name: str) -> None:
        async with self.lock:
            self.get(name).stop()
            del self.proxies[name]

    async def populate(self, body: Any) -> list[Proxy]:
        """Create or replace many proxies; all new listeners bind before any change.

        As in Toxiproxy, an existing proxy with the same listen and upstream is kept
        (toxics and connections included); one that differs is replaced.
        """
        wanted = [self.allowed(fields) for fields in parse_populate(body)]
        async with self.lock:
            replaced = [f for f in wanted if self._differs(f)]
            socks = await self._bind_all(replaced)
            result: list[Proxy] = []
            for fields in wanted:
                if fields.name in {f.name for f in replaced}:
                    result.append(await self._replace(fields, socks.get(fields.name)))
                else:
                    proxy = self.proxies[fields.name]
                    await proxy.update(fields)
                    result.append(proxy)
            return result

    def _differs(self, fields: ProxyFields) -> bool:
        old = self.proxies.get(fields.name)
        return old is None or (old.listen, old.upstream) != (fields.listen, fields.upstream)

    async def _bind_all(self, entries: list[ProxyFields]) -> dict[str, socket.socket]:
        """Bind every enabled new listener, or none; a listener taken over from the
        proxy being replaced is bound later, after the old one closes."""
        socks: dict[str, socket.socket] = {}
        try:
            for fields in entries:
                old = self.proxies.get(fields.name)
                taken_over = old is not None and old.enabled and old.listen == fields.listen
                if fields.enabled and not taken_over:
                    socks[fields.name] = await bind(fields.listen)
        except ProxyError:
            for sock in socks.values():
                sock.close()
            raise
        return socks

    async def _replace(self, fields: ProxyFields, sock: socket.socket | None) -> Proxy:
        old = self.proxies.pop(fields.name, None)
        if old is not None:
            old.stop()
        proxy = self.new_proxy(fields)
        self.proxies[fields.name] = proxy
        if fields.enabled:
            await proxy.start(sock)
        return proxy

    # -- source filters (a chaoskit extension) -------------------------------------------
    def set_classifier(self, classify: Classify | None) -> None:
        """How every proxy, present and future, names the source of a connection."""
        self.classify = classify
        for proxy in self.proxies.values():
            proxy.classify = classify

    async def block_sources(self, name: str, blocked: Mapping[str, Admission]) -> None:
        async with self.lock:
            self.get(name).block_sources(blocked)

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        async with self.lock:
            for proxy in self.proxies.values():
                proxy.clear_toxics()
                await proxy.start()

    async def close(self) -> None:
        async with self.lock:
            for proxy in self.proxies.values():
                proxy.stop()
            self.proxies.clear()

    # -- toxics ----------------------------------------------------------------------
    async def add_toxic(self, name: str, body: Any) -> dict[str, Any]:
        async with self.lock:
            proxy = self.get(name)
            spec = parse_toxic_create(body)
            if spec.name in proxy.toxics:
                raise ProxyError("toxic already exists", status=409)
            proxy.set_toxic(spec)
            return spec.to_json()

    def get_toxic(self, name: str, toxic: str) -> dict[str, Any]:
        spec = self.get(name).toxics.get(toxic)
        if spec is None:
            raise ProxyError("toxic not found", status=404)
        return spec.to_json()

    async def update_toxic(self, name: str, toxic: str, body: Any) -> dict[str, Any]:
        async with self.lock:
            proxy = self.get(name)
            current = proxy.toxics.get(toxic)
            if current is None:
                raise ProxyError("toxic not found", status=404)
            spec = parse_toxic_update(body, current)
            proxy.set_toxic(spec)
            return spec.to_json()

    async def remove_toxic(self, name: str, toxic: str) -> None:
        async with self.lock:
            proxy = self.get(name)
            if toxic not in proxy.toxics:
                raise ProxyError("toxic not found", status=404)
            proxy.remove_toxic(toxic)
