"""The Docker runtime: every node is a container on a network private to the run.

Layout of one run ``R`` (every object labelled ``chaoskit.run=R``, so that
``cleanup`` finds them after a crash and never touches anything else)::

    network  ck-R                  user-defined bridge: nodes reach peers by name
    node     ck-R-n1 ... ck-R-nN   listens on 0.0.0.0:8000 inside; the API published
                                   on 127.0.0.1:<host port> for the controller only
    proxy    ck-R-proxy            the fault proxy; per-pair proxies listen inside it,
                                   its API is published on 127.0.0.1

The controller never dials a container's IP: it uses the ports published on
127.0.0.1, a path that no fault cuts (proxies sit between nodes, iptables rules
match only peers' addresses). Host ports are fixed when a node is placed, because
Docker picks a new one on every start and a restarted node must stay where the
observer looks for it.

Example (what the controller does)::

    rt = DockerRuntime(run_id, run_dir)
    url = await rt.start_proxy()                      # API on 127.0.0.1
    placed = rt.place_nodes(["n1", "n2", "n3"])
    peers = rt.via_proxy(await ProxyNetwork(client, run_id, "0.0.0.0")
                         .setup([p.inside for p in placed]))
    for p in placed:
        await rt.launch(p.outside, target.launch(p.inside, peers[p.id]))
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaoskit.core.target import Launch, NodeInfo
from chaoskit.errors import ConfigError, SetupError
from chaoskit.runtimes import containers
from chaoskit.runtimes.containers import LABEL_CONTROLLER, LABEL_NODE, LABEL_ROLE, LABEL_RUN
from chaoskit.runtimes.images import (
    CLOCK_DIR_IN_NODE,
    NODE_IMAGE,
    PROXY_IMAGE,
    clock_env,
    docker_client,
    docker_errors,
    image_argv,
)
from chaoskit.runtimes.ports import reserve_port
from chaoskit.runtimes.registry import process_token

if TYPE_CHECKING:
    from chaoskit.clock.faketime import FaketimeClock

NODE_PORT = 8000
PROXY_API_PORT = 8474
DATA_DIR = Path("/data")
_RUN_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")

StartHook = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class Placement:
    """Where node ``id`` lives: as its peers see it, and as the controller reaches it.

    ``inside`` is for ``Target.launch`` and for the proxies' upstreams (host is the
    container name, port the fixed in-container port); ``outside`` is for the
    observer and the clients (127.0.0.1 and the published port).
    """

    id: str
    container: str
    inside: NodeInfo
    outside: NodeInfo


@dataclass
class _Node:
    placement: Placement
    container: Any = None
    log_thread: threading.Thread | None = None
    log_bytes: list[int] = field(default_factory=lambda: [0])


class DockerRuntime:
    """Start, kill, pause and restart nodes as containers of one run."""

    name = "docker"

    def __init__(
        self,
        run_id: str,
        run_dir: Path,
        image: str = NODE_IMAGE,
        network_name: str | None = None,
        *,
        proxy_image: str = PROXY_IMAGE,
        node_port: int = NODE_PORT,
        port_name: str = "api",
        client: Any = None,
        clock: FaketimeClock | None = None,
        net_admin: bool = False,
        host_data: bool = False,
    ) -> None:
        if not _RUN_ID.match(run_id):
            raise ConfigError(f"run id '{run_id}' is not usable in container names")
        self.run_id = run_id
        self.run_dir = run_dir
        self.image = image
        self.proxy_image = proxy_image
        self.network_name = network_name or f"ck-{run_id}"
        self.node_port = node_port
        #: The target's one port (containers run single-port targets): its name.
        self.port_name = port_name
        self.client = client if client is not None else docker_client()
        self.labels = {LABEL_RUN: run_id, LABEL_CONTROLLER: process_token()}
        self._nodes: dict[str, _Node] = {}
        self._proxy: _Node | None = None
        self._network: Any = None
        self._start_hooks: list[StartHook] = []
        self._setup_lock = asyncio.Lock()
        #: Clock nemeses: the clock directory is bind-mounted read-only into every node
        #: and each node preloads the image's libfaketime on its own file there.
        self.clock = clock
        #: ``NET_ADMIN`` only for the iptables network, which writes rules inside the
        #: nodes: the proxy network and the user's own image never get it.
        self.net_admin = net_admin
        self.host_data = host_data  # bind <run dir>/data/<node> at /data (disk faults)

    # -- placement -----------------------------------------------------------------

    def container_name(self, node: str) -> str:
        return f"ck-{self.run_id}-{node}"

    @property
    def proxy_name(self) -> str:
        return self.container_name("proxy")

    def place(self, node_id: str, index: int, host_port: int | None = None) -> Placement:
        """Fix where node ``node_id`` listens (inside) and is reached (outside)."""
        name = self.container_name(node_id)
        inside = NodeInfo(
            id=node_id,
            index=index,
            host=name,
            ports={self.port_name: self.node_port},
            data_dir=DATA_DIR,
        )
        port = host_port or reserve_port()
        outside = NodeInfo(
            id=node_id,
            index=index,
            host="127.0.0.1",
            ports={self.port_name: port},
            data_dir=self.run_dir / "data" / node_id,
        )
        placement = Placement(id=node_id, container=name, inside=inside, outside=outside)
        self._nodes[node_id] = _Node(placement)
        return placement

    def place_nodes(self, ids: Iterable[str]) -> list[Placement]:
        return [self.place(node_id, i) for i, node_id in enumerate(ids)]

    def placement(self, node: str) -> Placement:
        return self._nodes[node].placement

    def direct_peers(self, node: str) -> dict[str, dict[str, tuple[str, int]]]:
        """Peers dialled straight by name (the iptables network mode has no proxy), by
        the target's one port name, as ``Target.launch`` takes them."""
        return {
            other.placement.id: {self.port_name: (other.placement.container, self.node_port)}
            for other in self._nodes.values()
            if other.placement.id != node
        }

    def via_proxy(
        self, peers: Mapping[str, Mapping[str, Mapping[str, tuple[str, int]]]]
    ) -> dict[str, dict[str, dict[str, tuple[str, int]]]]:
        """Turn the proxy network's listen addresses (per node, per peer, per port) into
        what nodes dial: the proxy container's name."""
        return {
            src: {
                dst: {kind: (self.proxy_name, port) for kind, (_host, port) in addrs.items()}
                for dst, addrs in targets.items()
            }
            for src, targets in peers.items()
        }

    # -- network and proxy ---------------------------------------------------------

    async def setup(self) -> None:
        """Create the run's network (idempotent, also when called concurrently)."""
        async with self._setup_lock:
            if self._network is None:
                self._network = await asyncio.to_thread(
                    containers.network, self.client, self.network_name, self.labels
                )

    async def start_proxy(
        self, host_port: int | None = None, seed: int = 0, token: str | None = None
    ) -> str:
        """Run the fault proxy container on the run network; return its API URL.

        The API and the proxies listen on 0.0.0.0 inside (explicitly allowed),
        the API answers loopback and the network's gateway only (where the published
        port arrives: never the nodes), and ``token`` (in the environment, not argv)
        is required on every request.
        """
        await self.setup()
        port = host_port or reserve_port()
        placement = Placement(
            id="proxy",
            container=self.proxy_name,
            inside=NodeInfo("proxy", -1, self.proxy_name, {"api": PROXY_API_PORT}, DATA_DIR),
            outside=NodeInfo("proxy", -1, "127.0.0.1", {"api": port}, self.run_dir),
        )
        self._proxy = _Node(placement)
        command = ["--host", "0.0.0.0", "--port", str(PROXY_API_PORT), "--seed", str(seed)]
        command += ["--allow-remote-listen", "--allow-client", "gateway"]
        self._proxy.container = await asyncio.to_thread(
            self._create,
            False,
            self.proxy_image,
            self.proxy_name,
            command,
            {"CHAOSKIT_PROXY_TOKEN": token} if token else {},
            {f"{PROXY_API_PORT}/tcp": ("127.0.0.1", port)},
            {LABEL_ROLE: "proxy"},
        )
        await self._start_entry(self._proxy)
        url = f"http://127.0.0.1:{port}"
        await containers.wait_http(
            self._proxy.container, self._proxy.placement.container, f"{url}/version"
        )
        return url

    # -- the Runtime protocol ------------------------------------------------------

    async def launch(self, node: NodeInfo, launch: Launch) -> None:
        """Create node ``node.id``'s container and start it.

        ``node`` may be the placement's ``outside`` view; a node never placed is
        placed now, published on ``node.port`` of 127.0.0.1.
        """
        await self.setup()
        if node.id not in self._nodes:
            self.place(node.id, node.index, host_port=node.port)
        entry = self._nodes[node.id]
        if entry.container is None:
            ports = {f"{self.node_port}/tcp": ("127.0.0.1", entry.placement.outside.port)}
            # No CHAOSKIT_RUN_ID here: the local runtime finds its leftovers by that
            # marker in /proc, which also shows container processes; labels mark ours.
            env = {k: v for k, v in launch.env.items() if k != "CHAOSKIT_RUN_ID"}
            volumes: dict[str, dict[str, str]] = {}
            if self.clock is not None:
                env = clock_env(env, self.clock.env_for(node.id, node_dir=CLOCK_DIR_IN_NODE))
                host_dir = str(self.clock.state_dir.resolve())
                volumes[host_dir] = {"bind": CLOCK_DIR_IN_NODE, "mode": "ro"}
            if self.host_data:
                volumes[str(entry.placement.outside.data_dir.resolve())] = {"bind": str(DATA_DIR)}
            entry.container = await asyncio.to_thread(
                self._create,
                self.net_admin,
                self.image,
                entry.placement.container,
                image_argv(launch.argv) if self.image == NODE_IMAGE else list(launch.argv),
                env,
                ports,
                {LABEL_NODE: node.id, LABEL_ROLE: "node"},
                volumes,
            )
        await self.start(node.id)

    async def launch_all(self, launches: Sequence[tuple[NodeInfo, Launch]]) -> None:
        """Launch every node at once: the engine creates and starts containers in
        parallel, and the nodes' interpreters start side by side (start-up time is
        then about that of one node, not the sum).

        Every launch is waited for, even when one fails, so that nothing is still being
        created when the caller tears the run down; then the first error is raised.
        """
        await self.setup()
        results = await asyncio.gather(
            *(self.launch(node, launch) for node, launch in launches), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def start(self, node: str) -> None:
        entry = self._nodes[node]
        if await asyncio.to_thread(containers.status, entry.container) in ("running", "paused"):
            return
        await self._start_entry(entry)
        for hook in self._start_hooks:
            await hook(node)

    async def kill(self, node: str) -> None:
        await asyncio.to_thread(containers.kill, self._nodes[node].container)

    async def signal(self, node: str, sig: int) -> None:
        await asyncio.to_thread(containers.signal, self._nodes[node].container, sig)

    async def stop(self, node: str) -> None:
        await asyncio.to_thread(containers.stop, self._nodes[node].container)

    async def pause(self, node: str) -> None:
        entry = self._nodes[node]
        if await asyncio.to_thread(containers.status, entry.container) == "running":
            await asyncio.to_thread(containers.quiet, entry.container.pause)

    async def resume(self, node: str) -> None:
        entry = self._nodes[node]
        if await asyncio.to_thread(containers.status, entry.container) == "paused":
            await asyncio.to_thread(containers.quiet, entry.container.unpause)

    def is_running(self, node: str) -> bool:
        entry = self._nodes.get(node)
        return entry is not None and containers.status(entry.container) in ("running", "paused")

    def pid(self, node: str) -> int | None:
        """Containers are found by label, not by process id: none."""
        return None

    def pids(self) -> list[int]:
        return []

    def kill_now(self) -> None:
        """Remove the run's containers and network at once (the last resort)."""
        with contextlib.suppress(Exception):
            containers.remove_run(self.client, self.run_id)

    async def close(self) -> None:
        """Remove this run's containers and network (found by label: even unplaced ones)."""
        await asyncio.to_thread(containers.remove_run, self.client, self.run_id)
        entries = [*self._nodes.values(), *([self._proxy] if self._proxy else [])]
        for entry in entries:
            if entry.log_thread is not None:
                await asyncio.to_thread(entry.log_thread.join, 5.0)
            entry.container = None
        self._network = None

    # -- for the iptables network and tests ----------------------------------------

    def on_start(self, hook: StartHook) -> None:
        """Call ``hook(node)`` after every (re)start: a new container netns forgets rules."""
        self._start_hooks.append(hook)

    def nodes(self) -> list[str]:
        return list(self._nodes)

    def container_ip(self, node: str) -> str:
        """The node's address on the run network, as peers' packets carry it."""
        entry = self._nodes[node]
        entry.container.reload()
        networks = entry.container.attrs["NetworkSettings"]["Networks"]
        address = str(networks.get(self.network_name, {}).get("IPAddress") or "")
        if not address:
            raise SetupError(f"node {node} has no address on {self.network_name} (not running?)")
        return address

    async def exec(self, node: str, argv: list[str]) -> tuple[int, str]:
        """Run ``argv`` in node's network namespace (as root); exit code and output.

        A paused container cannot run anything, so then a short-lived helper
        container joins its network namespace instead: faults apply without waking it.
        """
        entry = self._nodes[node]
        if await asyncio.to_thread(containers.status, entry.container) == "paused":
            return await asyncio.to_thread(
                containers.exec_beside,
                self.client,
                self.image,
                entry.placement.container,
                argv,
                {**self.labels, LABEL_ROLE: "helper"},
            )
        result = await asyncio.to_thread(entry.container.exec_run, argv, user="root")
        return int(result.exit_code), result.output.decode(errors="replace")

    # -- internals -----------------------------------------------------------------

    def _create(self, net_admin: bool, image: str, name: str, *args: Any) -> Any:
        return containers.create(
            self.client, self.network_name, self.labels, net_admin, image, name, *args
        )

    async def _start_entry(self, entry: _Node) -> None:
        errors = docker_errors()
        if entry.log_thread is not None:  # the last run's log stream ends with it
            await asyncio.to_thread(entry.log_thread.join, 5.0)
        try:
            await asyncio.to_thread(entry.container.start)
        except errors.APIError as exc:
            raise SetupError(
                f"cannot start container {entry.placement.container}: {exc.explanation or exc}"
            ) from exc
        path = self.run_dir / "logs" / f"{entry.placement.id}.log"
        entry.log_thread = containers.follow_logs(
            entry.container, path, entry.log_bytes, entry.placement.container
        )
