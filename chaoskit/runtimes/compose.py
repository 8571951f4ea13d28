"""Attach a run to a cluster that docker-compose brought up (``--runtime compose``).

Why a runtime of its own: the containers belong to the user's compose project, not to
the run. chaoskit finds them, observes them, faults them and heals them, but never
creates or removes any of them: after the run (whatever ended it) every node runs
again, unpaused, and every link of the compose proxy is enabled without our toxics.

What is found, in the containers of the compose project (label
``com.docker.compose.project``):

- nodes: containers labelled ``chaoskit.role=node`` (the chaoskit node image carries
  that label); the node id is the compose service name; the controller reaches each
  through the port it publishes (label ``chaoskit.port`` names the container port
  when it publishes several), always dialled on 127.0.0.1;
- the fault proxy: the container labelled ``chaoskit.role=proxy``, its API published
  the same way (8474 inside); its proxies must be named ``<src>-<dst>`` for every
  ordered pair of nodes (``docker/compose-proxies.json``).

Example (what ``chaoskit run --runtime compose`` does)::

    cluster = await attach_compose(Path("docker-compose.yml"), None, run_dir, nodes=5)
    ...  # observe cluster.nodes, fault cluster.runtime / cluster.network
    await cluster.network.close(); await cluster.runtime.close()   # healed, left running
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoskit.core.target import Launch, NodeInfo
from chaoskit.errors import ConfigError, ProxyError, SetupError
from chaoskit.network.toxiproxy import _DELAY, _HANG, ProxyNetwork
from chaoskit.proxy import ProxyClient
from chaoskit.runtimes.images import docker_client, docker_errors

LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"
LABEL_ROLE = "chaoskit.role"
LABEL_PORT = "chaoskit.port"
PROXY_API_PORT = 8474
PROJECT_ENV = "COMPOSE_PROJECT_NAME"
STOP_GRACE_S = 3
#: How long a just-started compose proxy may take to answer.
PROXY_READY_S = 30.0
LOG_POLL_S = 1.0
_OUR_TOXICS = frozenset((*_HANG, _DELAY))


def project_names(compose_file: Path, explicit: str | None = None) -> list[str]:
    """The compose project's name as Compose v1 derives it, then v2's when it differs.

    ``explicit`` (``--compose-project``) wins, then ``$COMPOSE_PROJECT_NAME``, then the
    name of the directory holding the compose file, lower-cased, without the
    characters compose drops. v2 also drops leading ``-`` and ``_``, which v1 keeps.

    >>> project_names(Path("/work/My.Repo/docker-compose.yml"))
    ['myrepo']
    >>> project_names(Path("/work/_lab/docker-compose.yml"))
    ['_lab', 'lab']
    """
    name = explicit or os.environ.get(PROJECT_ENV) or compose_file.resolve().parent.name
    v1 = re.sub(r"[^-_a-z0-9]", "", name.lower())
    v2 = v1.lstrip("-_")
    if not v2:
        raise ConfigError(f"no usable compose project name in '{name}': pass --compose-project")
    return [v1] if v1 == v2 else [v1, v2]


def published_port(attrs: Mapping[str, Any], container_port: int | None) -> tuple[int, int]:
    """``(container port, host port)`` of the TCP port the container publishes.

    Read from the port bindings of its host config, which (unlike the network
    settings) are there while the container is stopped. ``container_port`` picks one
    when several are published.
    """
    bindings = attrs.get("HostConfig", {}).get("PortBindings") or {}
    if not bindings:
        bindings = attrs.get("NetworkSettings", {}).get("Ports") or {}
    published: dict[int, int] = {}
    for key, hosts in bindings.items():
        port, _, proto = str(key).partition("/")
        for host in hosts or []:
            if proto in ("", "tcp") and str(host.get("HostPort") or "").isdigit():
                published[int(port)] = int(host["HostPort"])
                break
    if container_port is not None:
        if container_port not in published:
            raise SetupError(f"container port {container_port} is not published on the host")
        return container_port, published[container_port]
    if len(published) != 1:
        found = ", ".join(str(p) for p in sorted(published)) or "none"
        raise SetupError(
            f"cannot tell which published port to use (published: {found}): "
            f"label the service with {LABEL_PORT}"
        )
    return next(iter(published.items()))


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort ``n2`` before ``n10``."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


@dataclass(frozen=True)
class Service:
    """One container of the compose project that the run uses."""

    name: str
    role: str
    container: Any
    container_port: int
    host_port: int


def find_services(containers: Iterable[Any], project: str) -> tuple[list[Service], Service]:
    """Split the project's containers into nodes (sorted by name) and the fault proxy."""
    nodes: list[Service] = []
    proxies: list[Service] = []
    seen: set[str] = set()
    for container in containers:
        labels = container.labels or {}
        role = labels.get(LABEL_ROLE)
        if role not in ("node", "proxy"):
            continue
        name = str(labels.get(LABEL_SERVICE) or container.name)
        if name in seen:
            raise SetupError(f"service {name} of compose project {project} has several containers")
        seen.add(name)
        wanted = labels.get(LABEL_PORT)
        default = PROXY_API_PORT if role == "proxy" else None
        try:
            inside, outside = published_port(container.attrs, int(wanted) if wanted else default)
        except SetupError as exc:
            raise SetupError(f"service {name}: {exc}") from exc
        service = Service(name, role, container, inside, outside)
        (nodes if role == "node" else proxies).append(service)
    if not nodes:
        raise SetupError(
            f"compose project '{project}' has no node containers (label {LABEL_ROLE}=node): "
            "run `docker-compose up -d` (or `docker compose up -d`) first, "
            "or name the project with --compose-project"
        )
    if len(proxies) != 1:
        raise SetupError(
            f"compose project '{project}' needs exactly one fault proxy container "
            f"(label {LABEL_ROLE}=proxy), found {len(proxies)}"
        )
    return sorted(nodes, key=lambda s: natural_key(s.name)), proxies[0]


class ComposeRuntime:
    """Kill, pause and restart the containers of a compose project; never remove them."""

    name = "compose"
    #: The compose file names the images; the run records none of its own.
    image: str | None = None

    def __init__(self, services: Iterable[Service], log_dir: Path) -> None:
        self._containers = {s.name: s.container for s in services}
        self._logs = LogPoller(self._containers, log_dir)

    async def launch(self, node: NodeInfo, launch: Launch) -> None:
        """The service runs its own compose command: only make sure it is up."""
        await self.start(node.id)

    async def start(self, node: str) -> None:
        status = await asyncio.to_thread(self._status, node)
        if status == "paused":
            await self.resume(node)
        elif status != "running":
            await asyncio.to_thread(self._quiet, self._containers[node].start)
        self._logs.start()

    async def kill(self, node: str) -> None:
        if await asyncio.to_thread(self._status, node) in ("running", "paused"):
            container = self._containers[node]
            await asyncio.to_thread(self._quiet, container.kill)
            await asyncio.to_thread(
                self._quiet, lambda: container.wait(condition="not-running", timeout=30)
            )

    async def signal(self, node: str, sig: int) -> None:
        from chaoskit.runtimes.containers import signal

        await asyncio.to_thread(signal, self._containers[node], sig)

    async def stop(self, node: str) -> None:
        container = self._containers[node]
        status = await asyncio.to_thread(self._status, node)
        if status == "paused":
            await asyncio.to_thread(self._quiet, container.unpause)
        if status in ("running", "paused"):
            await asyncio.to_thread(self._quiet, lambda: container.stop(timeout=STOP_GRACE_S))

    async def pause(self, node: str) -> None:
        if await asyncio.to_thread(self._status, node) == "running":
            await asyncio.to_thread(self._quiet, self._containers[node].pause)

    async def resume(self, node: str) -> None:
        if await asyncio.to_thread(self._status, node) == "paused":
            await asyncio.to_thread(self._quiet, self._containers[node].unpause)

    def is_running(self, node: str) -> bool:
        return node in self._containers and self._status(node) in ("running", "paused")

    def pid(self, node: str) -> int | None:
        """Containers are not processes of this machine's view: none."""
        return None

    def pids(self) -> list[int]:
        return []

    def kill_now(self) -> None:
        """The user's containers are never killed on the way out: nothing to do."""

    async def close(self) -> None:
        """Leave every node running and unpaused (the user's cluster), stop copying logs."""
        for node in self._containers:
            with contextlib.suppress(Exception):  # heal the rest whatever one does
                await self.start(node)
        await asyncio.to_thread(self._logs.stop)

    # -- internals -------------------------------------------------------------------

    def _status(self, node: str) -> str:
        container = self._containers[node]
        try:
            container.reload()
        except docker_errors().NotFound:
            return "absent"
        return str(container.status)

    @staticmethod
    def _quiet(call: Callable[[], Any]) -> None:
        """A state change racing with the container's own exit: 409s are fine."""
        errors = docker_errors()
        with contextlib.suppress(errors.NotFound, errors.APIError):
            call()


class LogPoller:
    """Copy the nodes' output since the attach to ``logs/<node>.log``, once a second.

    Polled in fixed windows rather than followed: the engine answers a follow request
    only once the container prints something, so a quiet node would hold a request
    (and the teardown) open. The project's earlier log is the user's, not the run's.
    """

    def __init__(self, containers: Mapping[str, Any], log_dir: Path) -> None:
        self._containers = containers
        self.log_dir = log_dir
        self._since = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="compose-logs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop polling after one last window (idempotent)."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join(10.0)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(LOG_POLL_S):
            self.poll()
        self.poll()

    def poll(self) -> None:
        """Append each node's output of the window since the last poll."""
        until = time.time()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for node, container in self._containers.items():
            with contextlib.suppress(Exception):  # a container gone: nothing to copy
                data = container.logs(stdout=True, stderr=True, since=self._since, until=until)
                with (self.log_dir / f"{node}.log").open("ab") as out:
                    out.write(data)
        self._since = until


class ComposeNetwork(ProxyNetwork):
    """The compose file's own per-pair proxies (``<src>-<dst>``), adopted, never deleted."""

    async def adopt(self, ids: list[str]) -> None:
        """Take over the proxy of every ordered pair, healed of anything a crashed run left."""
        found = await self.client.proxies()
        missing = [f"{a}-{b}" for a in ids for b in ids if a != b and f"{a}-{b}" not in found]
        if missing:
            raise SetupError(
                f"the compose fault proxy at {self.client.url} lacks the proxies "
                f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''} "
                "(one per ordered pair of nodes, named <src>-<dst>)"
            )
        for a in ids:
            for b in ids:
                if a == b:
                    continue
                name = f"{a}-{b}"
                info = found[name]
                if not info.enabled:
                    await self.client.update_proxy(name, enabled=True)
                for toxic in info.toxics:
                    if toxic.name in _OUR_TOXICS:
                        await self.client.remove_toxic(name, toxic.name)
                self._proxies[(a, b)] = [name]

    async def close(self) -> None:
        """Heal every link and let go; the proxies stay, they are the compose file's."""
        with contextlib.suppress(Exception):
            await self.heal_all()
        self._proxies.clear()


@dataclass
class ComposeCluster:
    """What the controller works with once attached."""

    project: str
    nodes: list[NodeInfo]
    runtime: ComposeRuntime
    network: ComposeNetwork
    proxy: ProxyClient


async def attach_compose(
    compose_file: Path,
    project: str | None,
    run_dir: Path,
    *,
    nodes: int,
    run_id: str = "compose",
    port_name: str = "api",
    client: Any = None,
) -> ComposeCluster:
    """Find the running compose project of ``compose_file`` and take it over for a run.

    ``nodes`` is the cluster size the run was planned with: the project must have
    exactly that many node services. ``port_name`` names the target's one port (the
    published one).
    """
    if not compose_file.is_file():
        raise ConfigError(f"compose file {compose_file} not found")
    client = client if client is not None else docker_client()
    for name in project_names(compose_file, project):
        containers = await asyncio.to_thread(
            client.containers.list, all=True, filters={"label": f"{LABEL_PROJECT}={name}"}
        )
        if containers:
            break
    services, proxy_service = find_services(containers, name)
    if len(services) != nodes:
        raise ConfigError(
            f"compose project '{name}' has {len(services)} nodes, the run was planned for "
            f"{nodes}: pass --nodes {len(services)}"
        )
    runtime = ComposeRuntime(services, run_dir / "logs")
    for service in services:
        await runtime.start(service.name)  # a node a crashed run left down comes back
    proxy = ProxyClient(f"http://127.0.0.1:{proxy_service.host_port}")
    try:
        await _wait_populated(proxy, [s.name for s in services])
        network = ComposeNetwork(proxy, run_id)
        await network.adopt([s.name for s in services])
    except BaseException:
        await proxy.aclose()
        await runtime.close()
        raise
    infos = [
        NodeInfo(
            id=s.name,
            index=i,
            host="127.0.0.1",
            ports={port_name: s.host_port},
            data_dir=run_dir / "data" / s.name,
        )
        for i, s in enumerate(services)
    ]
    return ComposeCluster(name, infos, runtime, network, proxy)


async def _wait_populated(
    proxy: ProxyClient, ids: list[str], timeout: float = PROXY_READY_S
) -> None:
    """The compose file's proxy may still be starting (``docker-compose up -d`` returns
    once containers are created, not serving) or still creating its proxies from its
    config: ask until it answers with a proxy for every pair, or give up after
    ``timeout`` (``ComposeNetwork.adopt`` then names what is missing)."""
    wanted = {f"{a}-{b}" for a in ids for b in ids if a != b}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            if wanted <= set(await proxy.proxies()):
                return
        except ProxyError:
            if loop.time() > deadline:
                raise
        if loop.time() > deadline:
            return
        await asyncio.sleep(0.2)
