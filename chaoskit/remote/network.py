"""``SshIptablesNetwork``: the Network protocol over iptables rules on the hosts.

Link faults (cut, hang, loss) are rules on the destination host
(chaoskit/remote/iptables.py); latency is netem on the source host, where its
kernel has netem (probed once per host; otherwise a one-line ``SetupError``).
Rules live in the hosts' network stacks, not in the nodes, so a node restarted
during a fault stays faulted, as on the proxy network.

``heal_all`` and ``close`` do not trust this object's bookkeeping alone: they list
each host's rules and delete every one marked with the run's id, so what a failed
command or a lost answer left behind goes too.
"""

from __future__ import annotations

import asyncio
import posixpath
import shlex
from collections.abc import Iterable, Mapping, Sequence

from chaoskit.core.network import LinkMode
from chaoskit.errors import ConfigError, SetupError
from chaoskit.remote import iptables
from chaoskit.remote.processes import RunPaths
from chaoskit.remote.ssh import SshPool, shell

Link = tuple[str, str]


class SshIptablesNetwork:
    """Per-direction link control between nodes on SSH hosts.

    ``placement`` maps node id to host name, ``sources`` node id to the IP address its
    packets carry (its host's ``node_host``), ``paths`` host name to the run's paths.
    """

    def __init__(
        self,
        pool: SshPool,
        run_id: str,
        placement: Mapping[str, str],
        sources: Mapping[str, str],
        paths: Mapping[str, RunPaths],
    ) -> None:
        self.pool = pool
        self.run_id = run_id
        self.placement = dict(placement)
        self.sources = dict(sources)
        self.paths = dict(paths)
        for node, address in self.sources.items():
            iptables.binary_for(address)  # a ConfigError now, not at the first fault
            if node not in self.placement:
                raise ConfigError(f"node {node} has an address but no host")
        self._faults: dict[Link, str] = {}
        self._loss: dict[Link, str] = {}
        #: source host -> {destination address: (latency_ms, jitter_ms)}
        self._delays: dict[str, dict[str, tuple[int, int]]] = {}
        self._delayed: set[Link] = set()
        self._netem: dict[str, bool] = {}
        self._devices: dict[str, set[str]] = {}
        self._lock = asyncio.Lock()
        self._closed = False

    async def setup(self) -> None:
        """Check every host has iptables (and that privileges work) before any fault."""
        await asyncio.gather(
            *(self.pool.require(h, ["iptables"], sudo=True) for h in self._hosts())
        )
        await asyncio.gather(*(iptables.listed(self.pool, h) for h in self._hosts()))

    def links(self) -> list[Link]:
        ids = list(self.placement)
        return [(a, b) for a in ids for b in ids if a != b]

    async def cut(self, links: Sequence[Link], mode: LinkMode = "cut") -> None:
        if mode not in ("cut", "hang"):
            raise ConfigError(f"unknown link fault mode '{mode}' (known: cut, hang)")
        async with self._lock:
            for link in links:
                await self._set(self._faults, link, mode)

    async def heal(self, links: Sequence[Link] | None = None) -> None:
        async with self._lock:
            for link in _select(links, self._faults):
                await self._unset(self._faults, link)

    async def loss(self, links: Sequence[Link], probability: float) -> None:
        """Drop a share ``probability`` (0 < p <= 1) of packets on each link."""
        if not 0.0 < probability <= 1.0:
            raise ConfigError(f"packet loss must be in (0, 1], not {probability}")
        async with self._lock:
            for link in links:
                await self._set(self._loss, link, f"loss:{probability:g}")

    async def unloss(self, links: Sequence[Link] | None = None) -> None:
        async with self._lock:
            for link in _select(links, self._loss):
                await self._unset(self._loss, link)

    async def delay(self, links: Sequence[Link], latency_ms: int, jitter_ms: int) -> None:
        """netem on each link's source host; ``SetupError`` where the kernel has none."""
        if latency_ms < 0 or jitter_ms < 0:
            raise ConfigError("latency and jitter must not be negative")
        async with self._lock:
            for host in sorted({self.placement[src] for src, _ in links}):
                if host not in self._netem:
                    self._netem[host] = await iptables.has_netem(self.pool, host)
                if not self._netem[host]:
                    raise SetupError(iptables.no_netem(host))
            touched = set()
            for src, dst in links:
                host = self.placement[src]
                self._delays.setdefault(host, {})[self.sources[dst]] = (latency_ms, jitter_ms)
                self._delayed.add((src, dst))
                touched.add(host)
            for host in sorted(touched):
                await self._apply_delays(host)

    async def undelay(self, links: Sequence[Link] | None = None) -> None:
        async with self._lock:
            chosen = (
                sorted(self._delayed)
                if links is None
                else [lk for lk in links if lk in self._delayed]
            )
            touched = set()
            for src, dst in chosen:
                self._delayed.discard((src, dst))
                host = self.placement[src]
                self._delays.get(host, {}).pop(self.sources[dst], None)
                touched.add(host)
            for host in sorted(touched):
                await self._apply_delays(host)

    async def heal_all(self) -> None:
        """Undo every fault of the run on every host (the final phase, every exit path)."""
        await self.heal()
        await self.unloss()
        await self.undelay()
        async with self._lock:
            await self._sweep()

    def faulty_links(self) -> list[Link]:
        return sorted(set(self._faults) | set(self._loss) | self._delayed)

    async def close(self) -> None:
        """Remove every rule and qdisc of the run from every host, then let go of the
        SSH connections; raises if a host cannot be cleaned (the run then stays
        registered for ``chaoskit cleanup``). Idempotent."""
        if self._closed:
            return
        try:
            async with self._lock:
                self._faults.clear()
                self._loss.clear()
                self._delayed.clear()
                self._delays.clear()
                for host in list(self._devices):
                    await self._apply_delays(host)
                await self._sweep()
        finally:
            self._closed = True
            await self.pool.release()

    # -- internals -----------------------------------------------------------------

    def _hosts(self) -> list[str]:
        return sorted(set(self.placement.values()))

    async def _sweep(self) -> None:
        results = await asyncio.gather(
            *(iptables.remove_run_rules(self.pool, h, [self.run_id]) for h in self._hosts()),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _rules(self, link: Link, mode: str) -> tuple[str, str, list[list[str]]]:
        src, dst = link
        if src not in self.placement or dst not in self.placement:
            raise ConfigError(f"unknown link {src}->{dst}")
        address = self.sources[src]
        mark = iptables.comment(self.run_id, src, dst, iptables.kind_of(mode))
        return (
            self.placement[dst],
            iptables.binary_for(address),
            iptables.marked_rules(address, mode, mark),
        )

    async def _set(self, table: dict[Link, str], link: Link, mode: str) -> None:
        if table.get(link) == mode:
            return
        if link in table:
            await self._unset(table, link)
        host, binary, rules = self._rules(link, mode)
        table[link] = mode  # before the commands: heal must try even if one fails midway
        # Each insert goes to the top: in reverse, so they end up in their own order
        # (the TCP reset before the catch-all drop).
        for rule in reversed(rules):
            await iptables.insert(self.pool, host, binary, rule)

    async def _unset(self, table: dict[Link, str], link: Link) -> None:
        mode = table.pop(link)
        host, binary, rules = self._rules(link, mode)
        for rule in rules:
            await iptables.delete(self.pool, host, binary, rule)

    async def _apply_delays(self, host: str) -> None:
        """Make ``host``'s qdiscs say what ``_delays`` says (nothing: the defaults back)."""
        wanted = self._delays.get(host, {})
        by_device: dict[str, dict[str, tuple[int, int]]] = {}
        for address, setting in wanted.items():
            device = await iptables.route_device(self.pool, host, address)
            by_device.setdefault(device, {})[address] = setting
        marks = self.paths[host].root
        for device in sorted(self._devices.get(host, set()) | set(by_device)):
            path = posixpath.join(marks, f"tc-{device}")
            mark = shlex.quote(path)
            dev = shlex.quote(device)
            await self.pool.run(
                host, shell(f"tc qdisc del dev {dev} root 2>/dev/null; true"), sudo=True
            )
            if device in by_device:
                # The mark first: cleanup must know to remove the qdisc if we die now.
                await self.pool.run(host, shell(f": > {mark}"))
                await self.pool.run(
                    host, shell(iptables.netem_script(device, by_device[device])), sudo=True
                )
            else:
                await self.pool.run(host, ["rm", "-f", path])
        self._devices[host] = set(by_device)


def _select(links: Iterable[Link] | None, present: Mapping[Link, str]) -> list[Link]:
    if links is None:
        return sorted(present)
    return [link for link in links if link in present]
