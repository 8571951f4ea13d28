"""``SshRuntime``: nodes as processes on the hosts of an inventory (the Runtime protocol).

One node per host, in inventory order (node i on host i): link faults are iptables
rules that tell nodes apart by their host's address, so two nodes on one host could
not be cut from each other. Each node has two views, as in the Docker runtime:

- ``inside``: what the node and its peers see: host = the host's ``node_host``,
  port = ``node_port``, data_dir = ``<data_dir>/<run_id>/nodes/<node>`` on the host;
  ``Target.launch`` gets this one, and peers dial each other directly (no proxy:
  faults are made by ``SshIptablesNetwork``);
- ``outside``: where the controller's observer and clients reach the node: the same
  address directly, or ``127.0.0.1:<port>`` of an SSH tunnel when the host says
  ``tunnel = true`` (nodes behind a bastion, ports closed to the control node).
  Neither path is ever cut: tunnelled connections arrive from the host itself,
  direct ones from the control node, and rules match only peers' addresses.

Example (what the controller will do)::

    inventory = load_inventory(Path("hosts.toml"))
    runtime = SshRuntime(run_id, run_dir, inventory)
    placed = await runtime.setup(["n1", "n2", "n3"])
    network = runtime.network()
    await network.setup()
    clock = await runtime.clock()                 # only for clock nemeses
    for p in placed:
        await runtime.launch(p.outside, target.launch(p.inside, runtime.peers(p.id)))
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
import socket
import sys
import threading
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from chaoskit.core.target import Launch, NodeInfo
from chaoskit.errors import ChaoskitError, ConfigError, SetupError
from chaoskit.remote import processes
from chaoskit.remote.clock import SshClock, restore_host_clocks
from chaoskit.remote.inventory import Host, Inventory
from chaoskit.remote.network import SshIptablesNetwork
from chaoskit.remote.processes import RemoteNode, RunPaths
from chaoskit.remote.ssh import SshPool
from chaoskit.runtimes.local import merge_env
from chaoskit.runtimes.registry import process_token

#: The last resort (``kill_now``) gets this long to reach every host.
KILL_NOW_S = 10.0


@dataclass(frozen=True)
class Placement:
    """Node ``id`` on host ``host``: as peers see it, and as the controller reaches it."""

    id: str
    host: str
    inside: NodeInfo
    outside: NodeInfo


@dataclass
class _Node:
    placement: Placement
    process: RemoteNode
    launch: Launch | None = None


class SshRuntime:
    """Start, kill, pause and restart nodes as processes on SSH hosts."""

    name = "ssh"
    #: Nodes are processes on their hosts, not containers (the Runtime protocol's image).
    image: str | None = None

    def __init__(
        self,
        run_id: str,
        run_dir: Path,
        inventory: Inventory,
        *,
        pool: SshPool | None = None,
        controller: str | None = None,
        port_name: str = "api",
    ) -> None:
        self.run_id = processes.check_run_id(run_id)
        #: The target's one port (hosts run single-port targets): its name.
        self.port_name = port_name
        self.run_dir = run_dir
        self.inventory = inventory
        self.pool = (pool or SshPool(inventory.hosts)).acquire()
        self.controller = controller or process_token()
        self._nodes: dict[str, _Node] = {}
        #: Hosts the run's directory may exist on (set before it is made): close cleans
        #: them even when setup failed before any node was placed.
        self._prepared: set[str] = set()
        self._clock: SshClock | None = None
        self._closed = False

    # -- placement -----------------------------------------------------------------

    def paths(self, host: str) -> RunPaths:
        return RunPaths(self.pool.host(host).data_dir, self.run_id)

    async def setup(self, ids: Sequence[str]) -> list[Placement]:
        """Connect to the hosts, make the run's directory on each, open tunnels; place
        node i on host i. ``ConfigError`` when there are more nodes than hosts."""
        hosts = list(self.inventory.hosts)
        if len(ids) > len(hosts):
            raise ConfigError(
                f"{len(ids)} nodes need {len(ids)} hosts; {self.inventory.source} has "
                f"{len(hosts)} (one node per host: link faults tell hosts apart by address)"
            )
        used = hosts[: len(ids)]
        await _all_settled(self.pool.connect(h.name) for h in used)
        self._prepared.update(h.name for h in used)
        await _all_settled(
            processes.prepare_run(self.pool, h.name, self.paths(h.name), self.controller)
            for h in used
        )
        placed = []
        for index, (node_id, host) in enumerate(zip(ids, used, strict=True)):
            placed.append(await self._place(node_id, index, host))
        return placed

    async def _place(self, node_id: str, index: int, host: Host) -> Placement:
        paths = self.paths(host.name)
        inside = NodeInfo(
            id=node_id,
            index=index,
            host=host.peer_address,
            ports={self.port_name: host.node_port},
            data_dir=Path(paths.node_dir(node_id)),
        )
        if host.tunnel:
            local = await self.pool.forward(host.name, host.peer_address, host.node_port)
            reach, port = "127.0.0.1", local
        else:
            reach, port = host.peer_address, host.node_port
        outside = NodeInfo(
            id=node_id,
            index=index,
            host=reach,
            ports={self.port_name: port},
            data_dir=self.run_dir / "data" / node_id,
        )
        placement = Placement(id=node_id, host=host.name, inside=inside, outside=outside)
        log_copy = self.run_dir / "logs" / f"{node_id}.log"
        process = RemoteNode(self.pool, host.name, node_id, paths, log_copy)
        self._nodes[node_id] = _Node(placement, process)
        return placement

    def placement(self, node: str) -> Placement:
        return self._nodes[node].placement

    def placements(self) -> list[Placement]:
        return [n.placement for n in self._nodes.values()]

    def nodes(self) -> list[str]:
        return list(self._nodes)

    def peers(self, node: str) -> dict[str, dict[str, tuple[str, int]]]:
        """Every other node's address as ``node`` dials it (by the target's one port
        name, as ``Target.launch`` takes it): directly, no proxy."""
        return {
            other.placement.id: {
                self.port_name: (other.placement.inside.host, other.placement.inside.port)
            }
            for other in self._nodes.values()
            if other.placement.id != node
        }

    def sources(self) -> dict[str, str]:
        """Each node's IP address as its peers' packets carry it (for iptables rules)."""
        return {nid: _ip_of(n.placement.inside.host) for nid, n in self._nodes.items()}

    def network(self) -> SshIptablesNetwork:
        """The iptables network over the placed nodes (``await network.setup()`` next)."""
        return SshIptablesNetwork(
            self.pool.acquire(),
            self.run_id,
            {nid: n.placement.host for nid, n in self._nodes.items()},
            self.sources(),
            {n.placement.host: self.paths(n.placement.host) for n in self._nodes.values()},
        )

    async def clock(self, *, host_clock: bool = False) -> SshClock:
        """The run's clock, set up on the hosts; nodes launched afterwards get its
        environment (call it before ``launch``, as the controller makes its clock first)."""
        if self._clock is None:
            clock = SshClock(
                self.pool,
                {nid: n.placement.host for nid, n in self._nodes.items()},
                {n.placement.host: self.paths(n.placement.host) for n in self._nodes.values()},
                host_clock=host_clock,
            )
            await clock.setup()
            self._clock = clock
        return self._clock

    # -- the Runtime protocol ------------------------------------------------------

    async def launch(self, node: NodeInfo, launch: Launch) -> None:
        """Start placed node ``node.id`` with ``launch`` (argv for the host)."""
        if node.id not in self._nodes:
            raise ConfigError(f"node {node.id} was not placed on a host (call setup first)")
        self._nodes[node.id].launch = launch
        await self.start(node.id)

    async def start(self, node: str) -> None:
        entry = self._nodes[node]
        if entry.launch is None:
            raise ConfigError(f"node {node} was never launched")
        host = self.pool.host(entry.placement.host)
        env = dict(entry.launch.env)
        if self._clock is not None:
            merge_env(env, self._clock.env_for(node))
            if "FAKETIME_TIMESTAMP_FILE" in env:
                env.pop("FAKETIME", None)
        env[processes.RUN_ID_ENV] = self.run_id
        env[processes.CONTROLLER_ENV] = self.controller
        await entry.process.start(host_argv(entry.launch.argv, host), env)

    async def kill(self, node: str) -> None:
        await self._nodes[node].process.kill()

    async def signal(self, node: str, sig: int) -> None:
        """``kill -s SIG`` on the node's process group on its host; no waiting."""
        await self._nodes[node].process.signal(signal.Signals(sig))

    async def stop(self, node: str) -> None:
        await self._nodes[node].process.stop()

    async def pause(self, node: str) -> None:
        await self._nodes[node].process.pause()

    async def resume(self, node: str) -> None:
        await self._nodes[node].process.resume()

    def is_running(self, node: str) -> bool:
        entry = self._nodes.get(node)
        return entry is not None and entry.process.running

    def pid(self, node: str) -> int | None:
        """The node's process id *on its host* (never a process of this machine)."""
        process = self._nodes[node].process
        return process.pid if process.running else None

    def pids(self) -> list[int]:
        """Local process ids for the registry of active runs: none. The nodes' pids
        are on other machines; the registry's cleanup would signal local processes
        that happen to carry those numbers. Remote leftovers are found on the hosts
        (``cleanup_inventory``)."""
        return []

    async def fetch_logs(self) -> None:
        """Copy every node's log from its host to ``<run dir>/logs/<node>.log``."""
        await asyncio.gather(
            *(
                n.process.fetch_log(self.run_dir / "logs" / f"{nid}.log")
                for nid, n in self._nodes.items()
            ),
            return_exceptions=True,
        )

    async def close(self) -> None:
        """Kill every node (and anything else carrying the run's marker), fetch the
        logs, put a stepped host clock back, remove the run's directory on every host.
        Raises the first failure after trying every host; idempotent."""
        if self._closed:
            return
        self._closed = True
        errors: list[BaseException] = []
        if self._clock is not None:
            await self._clock.aclose()
        for entry in self._nodes.values():
            with contextlib.suppress(ChaoskitError):
                await entry.process.kill()
        await self.fetch_logs()
        hosts = self._prepared | {n.placement.host for n in self._nodes.values()}
        results = await asyncio.gather(
            *(self._clean_host(h) for h in sorted(hosts)), return_exceptions=True
        )
        errors += [r for r in results if isinstance(r, BaseException)]
        for entry in self._nodes.values():
            await entry.process.forget()
        await self.pool.release()
        if errors:
            raise errors[0]

    async def _clean_host(self, host: str) -> None:
        paths = self.paths(host)
        left = await processes.marked_processes(self.pool, host, self.run_id)
        await processes.kill_processes(self.pool, host, [m.pid for m in left])
        await restore_host_clocks(self.pool, [host], paths)
        await processes.remove_run_dir(self.pool, host, paths)

    def kill_now(self) -> None:
        """SIGKILL every node without the event loop: the last resort when the
        controller is leaving and its asynchronous teardown could not finish. Fresh
        connections from a thread, bounded by ``KILL_NOW_S``; what they miss,
        ``cleanup_inventory`` finds."""
        targets = [
            (n.placement.host, n.process.pid)
            for n in self._nodes.values()
            if n.process.pid is not None
        ]
        if not targets:
            return
        hosts = [self.pool.host(h) for h, _ in targets]

        async def kill_all() -> None:
            pool = SshPool(hosts)
            try:
                await asyncio.gather(
                    *(
                        pool.run(h, ["kill", "-s", "KILL", "--", f"-{pid}"], check=False)
                        for h, pid in targets
                    ),
                    return_exceptions=True,
                )
            finally:
                await pool.close()

        thread = threading.Thread(target=asyncio.run, args=(kill_all(),), daemon=True)
        thread.start()
        thread.join(KILL_NOW_S)


def host_argv(argv: Sequence[str], host: Host) -> list[str]:
    """The target's argv as run on ``host``: this machine's Python becomes the host's."""
    if not argv:
        raise ConfigError("the target gave an empty command line")
    first = Path(argv[0])
    if argv[0] == sys.executable or first.name.startswith("python"):
        return [host.python, *argv[1:]]
    return list(argv)


def _ip_of(address: str) -> str:
    """An IP address for a ``node_host`` (names resolved here, on the control node)."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(address))
    try:
        info = socket.getaddrinfo(address, None, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise SetupError(f"cannot resolve node_host {address!r}: {exc}") from exc
    return str(info[0][4][0])


async def _all_settled(steps: Iterable[Awaitable[object]]) -> None:
    """Run ``steps`` on every host at once and wait for all of them, then raise the first
    failure: a host still being prepared when another failed must not make its
    directory after ``close`` removed what was there."""
    results = await asyncio.gather(*steps, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
