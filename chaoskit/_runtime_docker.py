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
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from chaoskit._active import process_token
from chaoskit._errors import ConfigError, SetupError
from chaoskit._images import NODE_IMAGE, PROXY_IMAGE, docker_client, docker_errors
from chaoskit._ports import reserve_port
from chaoskit._target import Launch, NodeInfo

LABEL_RUN = "chaoskit.run"
LABEL_NODE = "chaoskit.node"
LABEL_ROLE = "chaoskit.role"
#: The process token (``_active.process_token``) of the process that created the
#: container: ``chaoskit cleanup`` without ``--run-id`` spares runs whose creator lives,
#: whichever registry (state dir, user) that process wrote to, if any.
LABEL_CONTROLLER = "chaoskit.controller"
NODE_PORT = 8000
PROXY_API_PORT = 8474
DATA_DIR = Path("/data")
PYTHON_IN_IMAGE = "python"
STOP_GRACE_S = 3
READY_TIMEOUT_S = 30.0
#: Where the node image keeps libfaketime (a link made in docker/node.Dockerfile, so the
#: path does not depend on the image's architecture).
LIBFAKETIME_IN_IMAGE = "/opt/chaoskit/libfaketime.so.1"
#: Where the run's clock directory (one timestamp file per node) appears in a node.
CLOCK_DIR_IN_NODE = "/run/chaoskit-clock"
_RUN_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")

StartHook = Callable[[str], Awaitable[None]]


class NodeClock(Protocol):
    """What the runtime needs of a ``FaketimeClock``: its directory and per-node env."""

    state_dir: Path

    def env_for(self, node: str, *, node_dir: str | None = None) -> dict[str, str]: ...


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
        client: Any = None,
        clock: NodeClock | None = None,
        net_admin: bool = True,
    ) -> None:
        if not _RUN_ID.match(run_id):
            raise ConfigError(f"run id '{run_id}' is not usable in container names")
        self.run_id = run_id
        self.run_dir = run_dir
        self.image = image
        self.proxy_image = proxy_image
        self.network_name = network_name or f"ck-{run_id}"
        self.node_port = node_port
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
        #: Issue 26: nodes get NET_ADMIN only for the iptables network (the controller
        #: passes False in proxy mode); the proxy container never does.
        self.node_caps = ["NET_ADMIN"] if net_admin else []

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
            port=self.node_port,
            peer_port=self.node_port,
            data_dir=DATA_DIR,
        )
        port = host_port or reserve_port()
        outside = NodeInfo(
            id=node_id,
            index=index,
            host="127.0.0.1",
            port=port,
            peer_port=self.node_port,
            data_dir=self.run_dir / "data" / node_id,
        )
        placement = Placement(id=node_id, container=name, inside=inside, outside=outside)
        self._nodes[node_id] = _Node(placement)
        return placement

    def place_nodes(self, ids: Iterable[str]) -> list[Placement]:
        return [self.place(node_id, i) for i, node_id in enumerate(ids)]

    def placement(self, node: str) -> Placement:
        return self._nodes[node].placement

    def direct_peers(self, node: str) -> dict[str, tuple[str, int]]:
        """Peers dialled straight by name (the iptables network mode has no proxy)."""
        return {
            other.placement.id: (other.placement.container, self.node_port)
            for other in self._nodes.values()
            if other.placement.id != node
        }

    def via_proxy(
        self, peers: Mapping[str, Mapping[str, tuple[str, int]]]
    ) -> dict[str, dict[str, tuple[str, int]]]:
        """Turn the proxy network's listen addresses into what nodes dial: the proxy's name."""
        return {
            src: {dst: (self.proxy_name, port) for dst, (_host, port) in targets.items()}
            for src, targets in peers.items()
        }

    # -- network and proxy ---------------------------------------------------------

    async def setup(self) -> None:
        """Create the run's network (idempotent, also when called concurrently)."""
        async with self._setup_lock:
            if self._network is None:
                self._network = await asyncio.to_thread(self._create_network)

    def _create_network(self) -> Any:
        errors = docker_errors()
        found = self.client.networks.list(
            names=[self.network_name], filters={"label": self._label()}
        )
        if found:
            return found[0]
        try:
            return self.client.networks.create(
                self.network_name,
                driver="bridge",
                labels=dict(self.labels),
                check_duplicate=True,
            )
        except errors.APIError as exc:
            raise SetupError(
                f"cannot create network {self.network_name}: {exc.explanation or exc}"
            ) from exc

    async def start_proxy(
        self, host_port: int | None = None, seed: int = 0, token: str | None = None
    ) -> str:
        """Run the fault proxy container on the run network; return its API URL.

        Issue 26: the API and the proxies listen on 0.0.0.0 inside (explicitly allowed),
        the API answers loopback and the network's gateway only (where the published
        port arrives: never the nodes), and ``token`` (in the environment, not argv)
        is required on every request.
        """
        await self.setup()
        port = host_port or reserve_port()
        placement = Placement(
            id="proxy",
            container=self.proxy_name,
            inside=NodeInfo("proxy", -1, self.proxy_name, PROXY_API_PORT, PROXY_API_PORT, DATA_DIR),
            outside=NodeInfo("proxy", -1, "127.0.0.1", port, PROXY_API_PORT, self.run_dir),
        )
        self._proxy = _Node(placement)
        command = ["--host", "0.0.0.0", "--port", str(PROXY_API_PORT), "--seed", str(seed)]
        command += ["--allow-remote-listen", "--allow-client", "gateway"]
        self._proxy.container = await asyncio.to_thread(
            self._create,
            self.proxy_image,
            self.proxy_name,
            command,
            {"CHAOSKIT_PROXY_TOKEN": token} if token else {},
            {f"{PROXY_API_PORT}/tcp": ("127.0.0.1", port)},
            {LABEL_ROLE: "proxy"},
            caps=[],
        )
        await self._start_entry(self._proxy)
        url = f"http://127.0.0.1:{port}"
        await self._wait_http(self._proxy, f"{url}/version")
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
            entry.container = await asyncio.to_thread(
                self._create,
                self.image,
                entry.placement.container,
                image_argv(launch.argv) if self.image == NODE_IMAGE else list(launch.argv),
                env,
                ports,
                {LABEL_NODE: node.id, LABEL_ROLE: "node"},
                volumes,
                caps=self.node_caps,
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
        if await asyncio.to_thread(self._status, entry) in ("running", "paused"):
            return
        await self._start_entry(entry)
        for hook in self._start_hooks:
            await hook(node)

    async def kill(self, node: str) -> None:
        await asyncio.to_thread(self._kill, self._nodes[node])

    async def stop(self, node: str) -> None:
        await asyncio.to_thread(self._stop, self._nodes[node])

    async def pause(self, node: str) -> None:
        entry = self._nodes[node]
        if await asyncio.to_thread(self._status, entry) == "running":
            await asyncio.to_thread(self._quiet, entry.container.pause)

    async def resume(self, node: str) -> None:
        entry = self._nodes[node]
        if await asyncio.to_thread(self._status, entry) == "paused":
            await asyncio.to_thread(self._quiet, entry.container.unpause)

    def is_running(self, node: str) -> bool:
        entry = self._nodes.get(node)
        return entry is not None and self._status(entry) in ("running", "paused")

    async def close(self) -> None:
        """Remove this run's containers and network (found by label: even unplaced ones)."""
        await asyncio.to_thread(remove_run, self.client, self.run_id)
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
        if await asyncio.to_thread(self._status, entry) == "paused":
            return await asyncio.to_thread(self._exec_beside, entry, argv)
        result = await asyncio.to_thread(entry.container.exec_run, argv, user="root")
        return int(result.exit_code), result.output.decode(errors="replace")

    def _exec_beside(self, entry: _Node, argv: list[str]) -> tuple[int, str]:
        errors = docker_errors()
        try:
            output = self.client.containers.run(
                self.image,
                argv,
                network_mode=f"container:{entry.placement.container}",
                cap_add=["NET_ADMIN"],
                labels={**self.labels, LABEL_ROLE: "helper"},
                remove=True,
                stdout=True,
                stderr=True,
            )
        except errors.ContainerError as exc:
            return int(exc.exit_status), str(exc.stderr or b"", errors="replace")
        return 0, bytes(output).decode(errors="replace")

    # -- internals -----------------------------------------------------------------

    def _label(self) -> str:
        return f"{LABEL_RUN}={self.run_id}"

    def _create(
        self,
        image: str,
        name: str,
        command: list[str],
        env: Mapping[str, str],
        ports: Mapping[str, tuple[str, int]],
        labels: Mapping[str, str],
        volumes: Mapping[str, Mapping[str, str]] | None = None,
        *,
        caps: Sequence[str] = (),
    ) -> Any:
        errors = docker_errors()
        try:
            return self.client.containers.create(
                image,
                command=command,
                name=name,
                hostname=name,
                environment=dict(env),
                labels={**self.labels, **labels},
                network=self.network_name,
                ports=dict(ports),
                cap_add=list(caps) or None,
                init=True,
                detach=True,
                volumes={k: dict(v) for k, v in (volumes or {}).items()},
            )
        except errors.ImageNotFound as exc:
            raise SetupError(
                f"image {image} not found: build it with `chaoskit image build` "
                "(or .ci/docker-setup.sh)"
            ) from exc
        except errors.APIError as exc:
            raise SetupError(f"cannot create container {name}: {exc.explanation or exc}") from exc

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
        entry.log_thread = self._follow_logs(entry)

    def _follow_logs(self, entry: _Node) -> threading.Thread:
        """Copy the container's output to ``logs/<node>.log`` as it comes.

        Docker keeps one log per container across restarts and replays it from the
        start, so the bytes already copied are skipped.
        """
        path = self.run_dir / "logs" / f"{entry.placement.id}.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        thread = threading.Thread(
            target=_copy_logs,
            args=(entry.container, path, entry.log_bytes),
            name=f"logs-{entry.placement.container}",
            daemon=True,
        )
        thread.start()
        return thread

    def _status(self, entry: _Node) -> str:
        errors = docker_errors()
        if entry.container is None:
            return "absent"
        try:
            entry.container.reload()
        except errors.NotFound:
            return "absent"
        return str(entry.container.status)

    def _kill(self, entry: _Node) -> None:
        if self._status(entry) not in ("running", "paused"):
            return
        self._quiet(entry.container.kill)
        self._quiet(lambda: entry.container.wait(condition="not-running", timeout=30))

    def _stop(self, entry: _Node) -> None:
        status = self._status(entry)
        if status == "paused":
            self._quiet(entry.container.unpause)
        if status in ("running", "paused"):
            self._quiet(lambda: entry.container.stop(timeout=STOP_GRACE_S))

    @staticmethod
    def _quiet(call: Callable[[], Any]) -> None:
        """Run a state change that may race with the container's own exit: 409s are fine."""
        errors = docker_errors()
        with contextlib.suppress(errors.NotFound, errors.APIError):
            call()

    async def _wait_http(self, entry: _Node, url: str) -> None:
        """Wait until ``url`` answers, failing early when the container exits."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=1.0) as http:
            while True:
                try:
                    await http.get(url)
                    return
                except httpx.HTTPError:
                    pass
                status = await asyncio.to_thread(self._status, entry)
                if status not in ("running", "created") or loop.time() > deadline:
                    tail = await asyncio.to_thread(_log_tail, entry.container)
                    raise SetupError(
                        f"{entry.placement.container} did not answer at {url} ({status}): {tail}"
                    )
                await asyncio.sleep(0.1)


def _copy_logs(container: Any, path: Path, written: list[int]) -> None:
    """Body of the log thread: append the stream past ``written[0]`` bytes to ``path``."""
    skip = written[0]
    try:
        with path.open("ab") as out:
            for chunk in container.logs(stream=True, follow=True, stdout=True, stderr=True):
                if skip >= len(chunk):
                    skip -= len(chunk)
                    continue
                data = chunk[skip:]
                skip = 0
                out.write(data)
                out.flush()
                written[0] += len(data)
    except Exception:  # noqa: BLE001 - the container went away: the stream just ends
        return


def _log_tail(container: Any) -> str:
    try:
        text = container.logs(tail=5).decode(errors="replace").strip()
    except Exception:  # noqa: BLE001 - best effort, for an error message
        return "no logs"
    return " | ".join(text.splitlines()[-5:]) or "no output"


def clock_env(env: Mapping[str, str], clock: Mapping[str, str]) -> dict[str, str]:
    """The node's environment with the clock's libfaketime settings merged in.

    Preloads are joined, and an inherited ``FAKETIME`` would override the node's file.
    """
    out = dict(env)
    for key, value in clock.items():
        out[key] = f"{value}:{out[key]}" if key == "LD_PRELOAD" and out.get(key) else value
    out.pop("FAKETIME", None)
    return out


def image_argv(argv: list[str]) -> list[str]:
    """The target's argv as run in the image: the host's Python becomes the image's."""
    if not argv:
        raise ConfigError("the target gave an empty command line")
    first = Path(argv[0])
    if argv[0] == sys.executable or first.name.startswith("python"):
        return [PYTHON_IN_IMAGE, *argv[1:]]
    return list(argv)


# -- cleanup: by label only, so nothing chaoskit did not create is ever touched --------


def _run_filter(run_id: str | None) -> dict[str, str]:
    return {"label": LABEL_RUN if run_id is None else f"{LABEL_RUN}={run_id}"}


def leftovers(run_id: str | None = None, *, client: Any = None) -> list[str]:
    """Containers and networks of ``run_id`` (or of every chaoskit run) that still exist."""
    client = client if client is not None else docker_client()
    flt = _run_filter(run_id)
    found = [f"container {c.name}" for c in client.containers.list(all=True, filters=flt)]
    found += [f"network {n.name}" for n in client.networks.list(filters=flt)]
    return found


def remove_run(client: Any, run_id: str | None) -> list[str]:
    """Force-remove the labelled containers, then their networks; return what went."""
    errors = docker_errors()
    flt = _run_filter(run_id)
    removed = []
    for container in client.containers.list(all=True, filters=flt):
        try:
            container.remove(force=True, v=True)
        except errors.NotFound:
            continue
        except errors.APIError as exc:
            # 409 "removal ... already in progress": an auto-removed helper (the one
            # that changes a paused node's rules) is on its way out already.
            if exc.status_code != 409 or "in progress" not in str(exc.explanation):
                raise
        removed.append(f"container {container.name}")
    for network in client.networks.list(filters=flt):
        with contextlib.suppress(errors.NotFound):
            network.remove()
            removed.append(f"network {network.name}")
    return removed


def cleanup(run_id: str | None = None) -> list[str]:
    """``chaoskit cleanup``: remove what the run ``run_id`` (or every run) left in Docker."""
    return remove_run(docker_client(), run_id)
