"""Starting a run's cluster: ports, the fault network, the clock, the nodes, the observer.

Four ways, one result, a ``Cluster``:

- local processes (the default) behind the embedded fault proxy, or a real Toxiproxy;
- containers of the run (``--runtime docker``) behind a proxy container, or with
  iptables inside them (``--network iptables``);
- the containers of a running docker-compose project (``--runtime compose``);
- processes on the hosts of an SSH inventory (``--runtime ssh``), faulted by iptables
  rules on the hosts (chaoskit/remote).

When a disk nemesis is planned (``needs_disk``, chaoskit/core/disk.py), every node's data
directory is a fault file system (chaoskit/disk), mounted before the node first starts
and unmounted after the nodes stopped; a machine that cannot mount one fails the run
before anything starts, with one line saying what is missing.

The ``Cluster`` is filled in as its parts come up, so a failure half-way (a node that
never starts, a busy port) still closes whatever exists: ``Cluster.close`` is the one
teardown of every part, on every exit path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from chaoskit.clock.faketime import FaketimeClock
from chaoskit.core.clock import Clock
from chaoskit.core.disk import needs_disk
from chaoskit.core.network import Network
from chaoskit.core.runtime import Runtime
from chaoskit.core.target import NodeInfo, peer_ports
from chaoskit.errors import ChaoskitError, ConfigError, SetupError
from chaoskit.network.toxiproxy import ProxyNetwork
from chaoskit.observe.observer import Observer
from chaoskit.proxy import ProxyClient, ProxyServer
from chaoskit.proxy._watch import FaultApiWatch
from chaoskit.run.plan import RunPlan
from chaoskit.run.ready import wait_answered, wait_until_ready
from chaoskit.run.timings import Timings
from chaoskit.runtimes.local import LocalRuntime
from chaoskit.runtimes.ports import PortLease, lease_ports
from chaoskit.store.rundir import LOGS
from chaoskit.store.streams import JsonlWriter, RunClock

if TYPE_CHECKING:
    from chaoskit.disk.faults import DiskFaults
    from chaoskit.disk.nodes import NodeDisks


@dataclass
class Cluster:
    """The parts of a started cluster that faults, observation and clients act on."""

    nodes: list[NodeInfo] = field(default_factory=list)
    runtime: Runtime | None = None
    network: Network | None = None
    observer: Observer | None = None
    clock: Clock | None = None
    #: The proxy API the network drives, and the embedded proxy when it is the run's.
    proxy: ProxyClient | None = None
    proxy_server: ProxyServer | None = None
    ports: PortLease | None = None
    #: A compose file's proxies: adopted for the run, reset afterwards, never deleted.
    adopted_proxies: list[str] = field(default_factory=list)
    #: The nodes' fault file systems, when a disk nemesis is planned.
    disk: NodeDisks | None = None
    #: Seconds from the first answer of every node to the target's ``ready`` rule
    #: (run/ready.py); None when it never held.
    ready_s: float | None = None

    async def close(self, step_s: float, timings: Timings | None = None) -> bool:
        """Stop observing, stop every node, remove the network and the proxy, free the
        ports and the clock files; each step bounded by ``step_s`` (twice that for the
        nodes and the network). False when the network, the runtime or a fault file
        system could not be closed: some of their faults, proxies, nodes (on SSH hosts)
        or mounts may remain (the run then stays in the registry)."""
        timings = timings or Timings()
        closed = True
        if self.observer is not None:
            with timings.step("teardown.observer"), contextlib.suppress(Exception):
                await asyncio.wait_for(self.observer.stop(), step_s)
        if self.runtime is not None:
            with timings.step("teardown.nodes"):
                try:
                    await asyncio.wait_for(self.runtime.close(), 2 * step_s)
                except Exception:  # noqa: BLE001 - reported to the caller
                    closed = False
        if self.disk is not None:  # once the nodes are gone: nothing holds the mounts
            with timings.step("teardown.disk"):
                try:
                    await asyncio.wait_for(self.disk.aclose(), 2 * step_s)
                except Exception:  # noqa: BLE001 - reported to the caller: a mount may remain
                    closed = False
        # The run's own embedded proxy drops every proxy when it closes: deleting them
        # one by one through its API first only made teardown slower.
        if self.network is not None and self.proxy_server is None:
            with timings.step("teardown.network"):
                try:
                    await asyncio.wait_for(self.network.close(), 2 * step_s)
                except Exception:  # noqa: BLE001 - reported to the caller
                    closed = False
        with timings.step("teardown.proxy"):
            if self.proxy is not None:
                with contextlib.suppress(Exception):
                    await self.proxy.aclose()
            if self.proxy_server is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.proxy_server.close(), step_s)
        if self.ports is not None:
            self.ports.release()
        if self.clock is not None:
            with contextlib.suppress(Exception):
                self.clock.close()
        return closed


@dataclass
class LaunchContext:
    """What starting a cluster needs from the run."""

    plan: RunPlan
    run_dir: Path
    run_id: str
    seed: int
    observations: JsonlWriter
    run_clock: RunClock
    #: The run's fault-API token, and the audit of what others change (chaoskit/proxy).
    watch: FaultApiWatch
    #: Called once the nodes' addresses are known, before any node starts (the
    #: controller records config.json and the registry entry then).
    nodes_known: Callable[[], None]
    #: Where a warning goes (a cluster that never got ready).
    warn: Callable[[str], None]
    #: Where the start-up steps' durations go (timings.json).
    timings: Timings = field(default_factory=Timings)


async def launch(cluster: Cluster, ctx: LaunchContext) -> None:
    """Bring up the cluster the plan asks for, filling ``cluster`` as parts come up;
    returns once every node answers its status API, the observer runs and the
    target's readiness rule holds (or was waited for in vain: run/ready.py)."""
    config = ctx.plan.config
    ids = [f"n{i + 1}" for i in range(config.nodes)]
    disk = _disk_faults(ctx)  # before anything starts: FUSE missing fails the run now
    if config.runtime == "compose":
        await _attach_compose(cluster, ctx)
    elif config.runtime == "docker":
        await _start_containers(cluster, ctx, ids, disk)
    elif config.runtime == "ssh":
        if disk is not None:
            raise ConfigError("disk faults need --runtime local or docker, not ssh")
        await _start_on_hosts(cluster, ctx, ids)
    else:
        await _start_processes(cluster, ctx, ids, disk)
    cluster.observer = Observer(ctx.plan.target, cluster.nodes, ctx.observations, ctx.run_clock)
    with ctx.timings.step("launch.ready"):
        await wait_answered(cluster.observer, cluster.runtime, cluster.nodes, ctx.run_dir)
    ids = [n.id for n in cluster.nodes]
    cluster.ready_s = await wait_until_ready(cluster.observer, ctx.plan.target, ids, ctx.warn)


def _disk_faults(ctx: LaunchContext) -> DiskFaults | None:
    """The run's fault file systems when a disk nemesis is planned, checked to be
    possible here (a one-line ``SetupError`` or ``ConfigError`` otherwise)."""
    if not needs_disk(ctx.plan.nemeses.values()):
        return None
    if ctx.plan.config.runtime not in ("local", "docker"):
        raise ConfigError(
            "disk nemeses need --runtime local or docker (they mount a fault file system "
            "under each node's data directory before the node starts)"
        )
    from chaoskit.disk.faults import DiskFaults

    faults = DiskFaults(ctx.run_id, log_dir=ctx.run_dir / LOGS)
    faults.check()
    return faults


async def _mount_disks(
    cluster: Cluster, disk: DiskFaults | None, runtime: Runtime, nodes: list[NodeInfo]
) -> None:
    """Put a fault file system under every node's (empty) data directory on this machine."""
    if disk is None:
        return
    from chaoskit.disk.nodes import NodeDisks

    cluster.disk = NodeDisks(disk, runtime)
    await cluster.disk.mount({n.id: n.data_dir for n in nodes})


async def _settle_disks(cluster: Cluster) -> None:
    """What the target wrote into the data directories before the nodes first start (a
    config file) is durable, as on a machine provisioned long before the test: a power
    loss must not take a node's configuration with it."""
    if cluster.disk is not None:
        await cluster.disk.sync_all()


async def _start_processes(
    cluster: Cluster, ctx: LaunchContext, ids: list[str], disk: DiskFaults | None
) -> None:
    """Local processes: every named port of the target leased per node; each peer port
    behind its own proxy per ordered pair (or one per node, in destination mode)."""
    target = ctx.plan.target
    names = [p.name for p in target.ports]
    with ctx.timings.step("launch.ports"):
        cluster.ports = lease_ports(len(ids) * len(names))
    leased = iter(cluster.ports.ports)
    cluster.nodes = [
        NodeInfo(
            id=nid,
            index=i,
            host="127.0.0.1",
            ports={name: next(leased) for name in names},
            data_dir=ctx.run_dir / "data" / nid,
        )
        for i, nid in enumerate(ids)
    ]
    for node in cluster.nodes:
        node.data_dir.mkdir(parents=True, exist_ok=True)
    with ctx.timings.step("launch.proxy_start"):
        network = await _embedded_or_given_proxy(cluster, ctx)
    with ctx.timings.step("launch.proxy_links"):
        peers = await network.setup(cluster.nodes, peer_ports(target))
    cluster.clock = _clock_if_needed(ctx, ids)
    env = cluster.clock.env_for if cluster.clock is not None else None
    runtime = LocalRuntime(ctx.run_id, ctx.run_dir / LOGS, extra_env=env)
    cluster.runtime = runtime
    await _mount_disks(cluster, disk, runtime, cluster.nodes)
    ctx.nodes_known()
    launches = [target.launch(node, peers[node.id]) for node in cluster.nodes]
    await _settle_disks(cluster)
    with ctx.timings.step("launch.spawn"):
        for node, command in zip(cluster.nodes, launches, strict=True):
            await runtime.launch(node, command)


async def _embedded_or_given_proxy(cluster: Cluster, ctx: LaunchContext) -> ProxyNetwork:
    """The run's own embedded proxy on 127.0.0.1, or the Toxiproxy at ``--toxiproxy-url``."""
    url = ctx.plan.config.toxiproxy_url
    if url is None:  # the run's token, loopback upstreams, changes audited at once
        cluster.proxy_server = ctx.watch.server(ctx.seed)
        await cluster.proxy_server.start()
        url = cluster.proxy_server.url
    cluster.proxy = ctx.watch.client(url, "hook" if cluster.proxy_server else "drift")
    try:
        await cluster.proxy.version()
    except ChaoskitError as exc:
        raise SetupError(f"the fault proxy at {url} does not answer: {exc}") from exc
    mode = ctx.plan.target.proxy_mode
    network = ProxyNetwork(
        cluster.proxy, ctx.run_id, mode=mode, sources=_source_filter(cluster, mode)
    )
    cluster.network = network
    return network


def _source_filter(cluster: Cluster, mode: str) -> ProxyServer | None:
    """Embedded proxy only: name each connection's source node through the kernel, so a
    destination-mode network can cut one source (chaoskit/network/sources.py)."""
    server = cluster.proxy_server
    if server is None or mode != "destination":
        return None
    from chaoskit.network.sources import SourceResolver

    def node_pids() -> dict[str, int | None]:
        runtime = cluster.runtime
        return {n.id: runtime.pid(n.id) for n in cluster.nodes} if runtime else {}

    server.classify_sources(SourceResolver(node_pids).classify)
    return server


def _clock_if_needed(
    ctx: LaunchContext, ids: list[str], library: str | None = None
) -> FaketimeClock | None:
    """A libfaketime clock when a clock nemesis is planned (``library``: where the nodes
    see libfaketime, inside an image; else it is looked for on this machine)."""
    if not _clock_planned(ctx):
        return None
    return FaketimeClock(ctx.run_dir / "clock", ids, library=library)


def _clock_planned(ctx: LaunchContext) -> bool:
    """Whether a nemesis of the plan moves clocks: those the steps of a scenario file
    use too, not only ``--nemesis`` (a replay of a clock fault needs the clock)."""
    return any(n.name.startswith("clock") for n in ctx.plan.nemeses.values())


async def _start_containers(
    cluster: Cluster, ctx: LaunchContext, ids: list[str], disk: DiskFaults | None
) -> None:
    """Containers on a network of the run; faults through the proxy container (or
    iptables inside the containers); the controller reaches every node through a port
    published on 127.0.0.1, which faults never cut."""
    from chaoskit.runtimes.docker import NODE_PORT, DockerRuntime
    from chaoskit.runtimes.images import LIBFAKETIME_IN_IMAGE, NODE_IMAGE

    target, config = ctx.plan.target, ctx.plan.config
    port = _single_port(ctx, "docker")
    clock = cluster.clock = _clock_if_needed(ctx, ids, library=LIBFAKETIME_IN_IMAGE)
    runtime = DockerRuntime(
        ctx.run_id,
        ctx.run_dir,
        image=target.docker_image or NODE_IMAGE,
        node_port=target.docker_port or NODE_PORT,
        port_name=port,
        clock=clock,
        net_admin=config.network == "iptables",
        host_data=disk is not None,
    )
    cluster.runtime = runtime
    placed = runtime.place_nodes(ids)
    cluster.nodes = [p.outside for p in placed]
    await _mount_disks(cluster, disk, runtime, cluster.nodes)
    if config.network == "iptables":
        from chaoskit.network.iptables import IptablesNetwork

        await runtime.setup()
        cluster.network = IptablesNetwork(runtime)
        peers = {p.id: runtime.direct_peers(p.id) for p in placed}
    else:
        url = config.toxiproxy_url
        if url is None:  # the proxy container requires the run's token
            url = await runtime.start_proxy(seed=ctx.seed, token=ctx.watch.token)
        cluster.proxy = ctx.watch.client(url, "drift" if config.toxiproxy_url else "pull")
        network = ProxyNetwork(cluster.proxy, ctx.run_id, listen_host="0.0.0.0")
        cluster.network = network
        peers = runtime.via_proxy(await network.setup([p.inside for p in placed]))
    ctx.nodes_known()
    launches = [(p.outside, target.launch(p.inside, peers[p.id])) for p in placed]
    await _settle_disks(cluster)
    await runtime.launch_all(launches)


async def _start_on_hosts(cluster: Cluster, ctx: LaunchContext, ids: list[str]) -> None:
    """Node i as a process on host i of the inventory; links faulted by iptables rules on
    the hosts (peers dial each other directly), clocks by libfaketime files there (or
    the hosts' clocks); the controller reaches each node directly or through an SSH
    tunnel, which faults never cut (docs/remote-hosts.md)."""
    from chaoskit.remote.runtime import SshRuntime

    target, config, hosts = ctx.plan.target, ctx.plan.config, ctx.plan.hosts
    assert hosts is not None  # read and checked by plan_run, with the target
    runtime = SshRuntime(ctx.run_id, ctx.run_dir, hosts, port_name=ctx.plan.target.ports[0].name)
    cluster.runtime = runtime  # from here on the teardown cleans the hosts
    placed = await runtime.setup(ids)
    cluster.nodes = [p.outside for p in placed]
    network = runtime.network()
    cluster.network = network
    await network.setup()
    if _clock_planned(ctx):  # before the nodes start: they are preloaded with it
        cluster.clock = await runtime.clock(host_clock=config.host_clock)
    ctx.nodes_known()
    for p in placed:
        await runtime.launch(p.outside, target.launch(p.inside, runtime.peers(p.id)))


async def _attach_compose(cluster: Cluster, ctx: LaunchContext) -> None:
    """Nodes are the services of a running docker-compose project: observed on their
    published ports, faulted through its proxy, never removed (runtimes/compose.py)."""
    from chaoskit.runtimes.compose import attach_compose

    config = ctx.plan.config
    assert config.compose_file is not None
    attached = await attach_compose(
        config.compose_file,
        config.compose_project,
        ctx.run_dir,
        nodes=config.nodes,
        run_id=ctx.run_id,
        port_name=_single_port(ctx, "compose"),
    )
    cluster.runtime, cluster.network = attached.runtime, attached.network
    cluster.proxy, cluster.nodes = attached.proxy, attached.nodes
    cluster.adopted_proxies = attached.network.proxy_names()
    ctx.nodes_known()


def _single_port(ctx: LaunchContext, runtime: str) -> str:
    """The name of the target's one port; ``ConfigError`` for a target with several
    ports or one proxy per node, which containers do not run yet."""
    target = ctx.plan.target
    names = [p.name for p in target.ports]
    if len(names) != 1 or target.proxy_mode != "pair":
        what = f"ports {', '.join(names)}" if len(names) != 1 else "proxy_mode destination"
        raise ConfigError(
            f"target '{target.name}' ({what}) does not run in the {runtime} runtime: "
            "containers take targets with one port in pair mode; use --runtime local"
        )
    return names[0]
