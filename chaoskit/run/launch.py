"""Starting a run's cluster: ports, the fault network, the clock, the nodes, the observer.

Three ways, one result, a ``Cluster``:

- local processes (the default) behind the embedded fault proxy, or a real Toxiproxy;
- containers of the run (``--runtime docker``) behind a proxy container, or with
  iptables inside them (``--network iptables``);
- the containers of a running docker-compose project (``--runtime compose``).

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
from typing import Any

from chaoskit.clock.faketime import FaketimeClock
from chaoskit.core.network import Network
from chaoskit.core.runtime import Runtime
from chaoskit.core.target import NodeInfo
from chaoskit.errors import ChaoskitError, ConfigError, SetupError
from chaoskit.network.toxiproxy import ProxyNetwork
from chaoskit.observe.observer import Observer
from chaoskit.proxy import ProxyClient, ProxyServer
from chaoskit.proxy._watch import FaultApiWatch
from chaoskit.run.plan import RunPlan
from chaoskit.run.timings import Timings
from chaoskit.runtimes.local import LocalRuntime
from chaoskit.runtimes.ports import PortLease, lease_ports
from chaoskit.store.rundir import LOGS
from chaoskit.store.streams import JsonlWriter, RunClock

STARTUP_TIMEOUT_S = 30.0
#: How often start-up looks whether every node has answered (no I/O: a set lookup).
READY_POLL_S = 0.005


@dataclass
class Cluster:
    """The parts of a started cluster that faults, observation and clients act on."""

    nodes: list[NodeInfo] = field(default_factory=list)
    runtime: Runtime | None = None
    network: Network | None = None
    observer: Observer | None = None
    clock: FaketimeClock | None = None
    #: The proxy API the network drives, and the embedded proxy when it is the run's.
    proxy: ProxyClient | None = None
    proxy_server: ProxyServer | None = None
    ports: PortLease | None = None
    #: A compose file's proxies: adopted for the run, reset afterwards, never deleted.
    adopted_proxies: list[str] = field(default_factory=list)

    async def close(self, step_s: float, timings: Timings | None = None) -> bool:
        """Stop observing, stop every node, remove the network and the proxy, free the
        ports and the clock files; each step bounded by ``step_s`` (twice that for the
        nodes and the network). False when the network could not be closed: some of
        its faults or proxies may remain (the run then stays in the registry)."""
        timings = timings or Timings()
        closed = True
        if self.observer is not None:
            with timings.step("teardown.observer"), contextlib.suppress(Exception):
                await asyncio.wait_for(self.observer.stop(), step_s)
        if self.runtime is not None:
            with timings.step("teardown.nodes"), contextlib.suppress(Exception):
                await asyncio.wait_for(self.runtime.close(), 2 * step_s)
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
    #: Where the start-up steps' durations go (timings.json).
    timings: Timings = field(default_factory=Timings)


async def launch(cluster: Cluster, ctx: LaunchContext) -> None:
    """Bring up the cluster the plan asks for, filling ``cluster`` as parts come up;
    returns once every node answers its status API and the observer runs."""
    config = ctx.plan.config
    ids = [f"n{i + 1}" for i in range(config.nodes)]
    if config.runtime == "compose":
        await _attach_compose(cluster, ctx)
    elif config.runtime == "docker":
        await _start_containers(cluster, ctx, ids)
    else:
        await _start_processes(cluster, ctx, ids)
    cluster.observer = Observer(ctx.plan.target, cluster.nodes, ctx.observations, ctx.run_clock)
    with ctx.timings.step("launch.ready"):
        await wait_ready(cluster, ctx.run_dir)


async def _start_processes(cluster: Cluster, ctx: LaunchContext, ids: list[str]) -> None:
    """Local processes, each peer link through its own proxy (or one per destination).

    With a proxy per pair (the reference nodes), the port of every link's proxy is
    leased with the nodes' own, so the nodes start as soon as the proxy answers and
    their links are made while they boot (an interpreter and aiohttp: most of a second
    each). A proxy that does not answer still means no node was started.
    """
    target = ctx.plan.target
    # Several peer ports (ZooKeeper: quorum, election) get a port per node and a proxy
    # per pair each; a separate peer port (etcd) one more port per node.
    kinds = target.peer_ports
    separate = int(target.separate_peer_port and not kinds)
    early = not kinds and target.proxy_mode == "pair"
    links = [(a, b) for a in ids for b in ids if a != b] if early else []
    with ctx.timings.step("launch.ports"):
        cluster.ports = lease_ports(len(ids) * (1 + len(kinds) + separate) + len(links))
    ports = cluster.ports.ports
    named = {
        nid: {k: ports[len(ids) * (1 + j) + i] for j, k in enumerate(kinds)}
        for i, nid in enumerate(ids)
    }
    cluster.nodes = [
        NodeInfo(
            id=nid,
            index=i,
            host="127.0.0.1",
            port=ports[i],
            peer_port=named[nid][kinds[0]] if kinds else ports[i + len(ids) * separate],
            data_dir=ctx.run_dir / "data" / nid,
        )
        for i, nid in enumerate(ids)
    ]
    for node in cluster.nodes:
        node.data_dir.mkdir(parents=True, exist_ok=True)
    cluster.clock = _clock_if_needed(ctx, ids)
    env = cluster.clock.env_for if cluster.clock is not None else None
    cluster.runtime = LocalRuntime(ctx.run_id, ctx.run_dir / LOGS, extra_env=env)
    if early:
        listen = dict(zip(links, ports[len(ports) - len(links) :], strict=True))
        peers: dict[str, Any] = {a: {} for a in ids}
        for (a, b), port in listen.items():
            peers[a][b] = ("127.0.0.1", port)
        network = await _proxy(cluster, ctx)
        await _spawn(cluster, ctx, peers)
        with ctx.timings.step("launch.proxy_links"):
            made = await network.setup(cluster.nodes, listen)
        if made != peers:
            raise SetupError("the fault proxy did not listen on the ports the nodes were given")
        return
    network = await _proxy(cluster, ctx)
    with ctx.timings.step("launch.proxy_links"):
        peers = (
            await network.setup_named(cluster.nodes, named)
            if kinds
            else await network.setup(cluster.nodes)
        )
    await _spawn(cluster, ctx, peers)


async def _proxy(cluster: Cluster, ctx: LaunchContext) -> ProxyNetwork:
    with ctx.timings.step("launch.proxy_start"):
        return await _embedded_or_given_proxy(cluster, ctx)


async def _spawn(cluster: Cluster, ctx: LaunchContext, peers: dict[str, Any]) -> None:
    """Record where the nodes are (config.json, the registry), then start each one."""
    runtime = cluster.runtime
    assert runtime is not None
    ctx.nodes_known()
    with ctx.timings.step("launch.spawn"):
        for node in cluster.nodes:
            await runtime.launch(node, ctx.plan.target.launch(node, peers[node.id]))


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
    if not any(n.startswith("clock") for s in ctx.plan.config.nemeses for n in s.names):
        return None
    return FaketimeClock(ctx.run_dir / "clock", ids, library=library)


async def _start_containers(cluster: Cluster, ctx: LaunchContext, ids: list[str]) -> None:
    """Containers on a network of the run; faults through the proxy container (or
    iptables inside the containers); the controller reaches every node through a port
    published on 127.0.0.1, which faults never cut."""
    from chaoskit.runtimes.docker import NODE_PORT, DockerRuntime
    from chaoskit.runtimes.images import LIBFAKETIME_IN_IMAGE, NODE_IMAGE

    target, config = ctx.plan.target, ctx.plan.config
    if target.peer_ports or target.proxy_mode != "pair" or target.separate_peer_port:
        raise ConfigError(f"target '{target.name}' does not run in the docker runtime yet")
    cluster.clock = _clock_if_needed(ctx, ids, library=LIBFAKETIME_IN_IMAGE)
    runtime = DockerRuntime(
        ctx.run_id,
        ctx.run_dir,
        image=target.docker_image or NODE_IMAGE,
        node_port=target.docker_port or NODE_PORT,
        clock=cluster.clock,
        net_admin=config.network == "iptables",
    )
    cluster.runtime = runtime
    placed = runtime.place_nodes(ids)
    cluster.nodes = [p.outside for p in placed]
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
    await runtime.launch_all([(p.outside, target.launch(p.inside, peers[p.id])) for p in placed])


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
    )
    cluster.runtime, cluster.network = attached.runtime, attached.network
    cluster.proxy, cluster.nodes = attached.proxy, attached.nodes
    cluster.adopted_proxies = attached.network.proxy_names()
    ctx.nodes_known()


async def wait_ready(cluster: Cluster, run_dir: Path) -> None:
    """Every node must answer its status API before faults may start.

    The observer starts at once and its first answer of each node is what counts: no
    second poller, and a node is seen ready within one sampling interval of it.
    """
    observer, runtime = cluster.observer, cluster.runtime
    assert observer is not None and runtime is not None
    observer.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_S
    while pending := [n.id for n in cluster.nodes if n.id not in observer.answered]:
        for nid in pending:
            if not runtime.is_running(nid):
                raise SetupError(f"node {nid} exited at start-up: {log_tail(run_dir, nid)}")
        if loop.time() > deadline:
            raise SetupError(
                f"node(s) {', '.join(sorted(pending))} never answered within "
                f"{STARTUP_TIMEOUT_S:g} s: {log_tail(run_dir, sorted(pending)[0])}"
            )
        await asyncio.sleep(READY_POLL_S)


def log_tail(run_dir: Path, node: str) -> str:
    """The last line a node wrote, for a one-line start-up error."""
    path = run_dir / LOGS / f"{node}.log"
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1] if lines else f"no output (see {path})"
