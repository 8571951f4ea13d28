"""The iptables network mode: link faults made inside the node containers.

For services whose peers cannot be pointed at a proxy (``--network iptables``).
A directed link ``src -> dst`` is faulted by a rule in ``dst``'s INPUT chain that
matches packets from ``src``'s address travelling in the ORIGINAL direction of their
connection, that is on connections ``src`` opened. So cutting ``a -> b`` stops a's
requests to b and leaves b's own connections to a (and their replies) alone, the
same meaning as the proxy per ordered pair. The controller's path (ports published
on 127.0.0.1, arriving from the network gateway) never matches.

- ``cut``: TCP answered with a reset (refused at once), anything else dropped;
- ``hang``: everything dropped silently (peers notice only by their own time-outs);
- ``loss``: a share of packets dropped (``-m statistic``);
- ``delay``: not possible here: this kernel has no netem (latency needs the proxy).

A restarted container has a new network namespace and no rules, and may have a new
address: the rules of every faulted link touching it are applied again on start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol

from chaoskit.core.network import LinkMode
from chaoskit.errors import ConfigError, SetupError

Link = tuple[str, str]
Rule = list[str]
NO_NETEM = "latency needs the proxy network mode (--network proxy): this kernel has no netem"


def link_rules(src_ip: str, mode: LinkMode | str) -> list[Rule]:
    """The INPUT rules (after ``-A INPUT``) that fault packets from ``src_ip`` in ``mode``."""
    match = ["-s", src_ip, "-m", "conntrack", "--ctdir", "ORIGINAL"]
    if mode == "cut":
        return [
            [*match, "-p", "tcp", "-j", "REJECT", "--reject-with", "tcp-reset"],
            [*match, "-j", "DROP"],
        ]
    if mode == "hang":
        return [[*match, "-j", "DROP"]]
    if mode.startswith("loss:"):
        probability = mode.removeprefix("loss:")
        return [
            [
                *match,
                "-m",
                "statistic",
                "--mode",
                "random",
                "--probability",
                probability,
                "-j",
                "DROP",
            ]
        ]
    raise ConfigError(f"unknown link fault mode '{mode}' (known: cut, hang)")


class Containers(Protocol):
    """What the network needs of the containers it faults (``DockerRuntime`` has it)."""

    def nodes(self) -> list[str]: ...
    def container_ip(self, node: str) -> str: ...
    def is_running(self, node: str) -> bool: ...
    async def exec(self, node: str, argv: list[str]) -> tuple[int, str]: ...
    def on_start(self, hook: Callable[[str], Awaitable[None]]) -> None: ...


class IptablesNetwork:
    """Per-direction link control through iptables rules inside the containers."""

    def __init__(self, runtime: Containers) -> None:
        self.runtime = runtime
        #: link -> (mode, source address the rules were written for)
        self._faults: dict[Link, tuple[str, str]] = {}
        self._loss: dict[Link, tuple[str, str]] = {}
        self._lock = asyncio.Lock()
        runtime.on_start(self._reapply)

    def links(self) -> list[Link]:
        ids = self.runtime.nodes()
        return [(a, b) for a in ids for b in ids if a != b]

    async def cut(self, links: Sequence[Link], mode: LinkMode = "cut") -> None:
        async with self._lock:
            for link in links:
                await self._set(self._faults, link, mode)

    async def heal(self, links: Sequence[Link] | None = None) -> None:
        async with self._lock:
            for link in self._select(links, self._faults):
                await self._unset(self._faults, link)

    async def delay(self, links: Sequence[Link], latency_ms: int, jitter_ms: int) -> None:
        raise ConfigError(NO_NETEM)

    async def undelay(self, links: Sequence[Link] | None = None) -> None:
        """Nothing to undo: ``delay`` never applies anything in this mode."""

    async def loss(self, links: Sequence[Link], probability: float) -> None:
        """Drop a share ``probability`` (0 < p <= 1) of packets on each link."""
        if not 0.0 < probability <= 1.0:
            raise ConfigError(f"packet loss must be in (0, 1], not {probability}")
        async with self._lock:
            for link in links:
                await self._set(self._loss, link, f"loss:{probability:g}")

    async def unloss(self, links: Sequence[Link] | None = None) -> None:
        async with self._lock:
            for link in self._select(links, self._loss):
                await self._unset(self._loss, link)

    async def heal_all(self) -> None:
        """Undo every fault this network applied (the final phase and every exit path)."""
        await self.heal()
        await self.unloss()

    def faulty_links(self) -> list[Link]:
        return sorted(set(self._faults) | set(self._loss))

    async def close(self) -> None:
        """Nothing to release: the rules live in the containers, which the runtime
        removes. (Without this method the controller's teardown took the network for
        one it could not close and kept every iptables run in the registry of runs
        that did not clean up.)"""

    # -- internals -----------------------------------------------------------------

    async def _set(self, table: dict[Link, tuple[str, str]], link: Link, mode: str) -> None:
        if table.get(link, ("", ""))[0] == mode:
            return
        if link in table:
            await self._unset(table, link)
        src, dst = link
        src_ip = await asyncio.to_thread(self.runtime.container_ip, src)
        for rule in link_rules(src_ip, mode):
            await self._iptables(dst, "-A", rule)
        table[link] = (mode, src_ip)

    async def _unset(self, table: dict[Link, tuple[str, str]], link: Link) -> None:
        mode, src_ip = table.pop(link)
        if not self.runtime.is_running(link[1]):
            return  # a stopped container's rules went with its network namespace
        for rule in link_rules(src_ip, mode):
            await self._iptables(link[1], "-D", rule)

    async def _reapply(self, node: str) -> None:
        """After ``node`` (re)started: its own rules are gone, its address may be new."""
        async with self._lock:
            for table in (self._faults, self._loss):
                for link in [lk for lk in table if node in lk]:
                    mode, _ = table[link]
                    if link[1] == node:
                        table.pop(link)  # the rules vanished with the old namespace
                    else:
                        await self._unset(table, link)
                    await self._set(table, link, mode)

    async def _iptables(self, node: str, action: str, rule: Rule) -> None:
        code, output = await self.runtime.exec(
            node, ["iptables", "-w", "5", action, "INPUT", *rule]
        )
        if code != 0:
            raise SetupError(f"iptables {action} in {node} failed: {output.strip()}")

    @staticmethod
    def _select(links: Iterable[Link] | None, present: dict[Link, tuple[str, str]]) -> list[Link]:
        if links is None:
            return sorted(present)
        return [link for link in links if link in present]
