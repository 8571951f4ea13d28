"""The Target part: how to launch node i and how to ask it who leads.

A target is the system under test. It knows nothing of faults: the controller
gives it, for every node, the ports it listens on and the addresses at which it
must reach its peers (fault proxies, not the peers themselves), and asks it for a
command line. It also knows how to ask a node "role, term, leader?" and how to
carry out a client operation for a workload.

Implementations: the catalogue ``chaoskit.targets`` (reference nodes, etcd,
ZooKeeper, ...) and spec-file targets for a user's own service (``chaoskit.spec``).
``TargetBase`` gives every optional ability its default, so a new target states only
what it does differently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from chaoskit.errors import ConfigError

if TYPE_CHECKING:
    import httpx

Policy = Literal["strict", "per-term"]
ProxyMode = Literal["pair", "destination"]
POLICIES: tuple[Policy, ...] = ("strict", "per-term")


@dataclass(frozen=True)
class NodeInfo:
    """One node of the cluster as the controller allocated it.

    ``port`` is where the controller reaches the node's API (status, client ops);
    ``peer_port`` is what peers dial, behind the fault proxies (the same port for
    the reference nodes).
    """

    id: str
    index: int
    host: str
    port: int
    peer_port: int
    data_dir: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@dataclass(frozen=True)
class Launch:
    """The argv (never a shell string), extra environment and working directory."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None


@dataclass(frozen=True)
class Status:
    """A node's own answer to "role, term, leader?"."""

    role: Literal["leader", "follower", "candidate"]
    term: int | None
    leader: str | None


@dataclass(frozen=True)
class Outcome:
    """What a client operation came to.

    ``type`` is ``ok``; ``fail`` when it certainly did not happen; ``info`` when
    unknown. ``redirect`` names the node the answering node believes leads, when
    it refused because it does not.
    """

    type: Literal["ok", "fail", "info"]
    value: Any = None
    redirect: str | None = None
    error: str | None = None


@runtime_checkable
class Target(Protocol):
    """A leader-elected system chaoskit can launch and observe.

    Every attribute and method is part of the contract (the controller never probes
    for optional ones); ``TargetBase`` supplies the defaults.
    """

    name: str
    description: str
    default_policy: Policy
    #: How peers are fronted: a proxy per ordered pair, or one per destination.
    proxy_mode: ProxyMode
    #: The election timeout, used to size fault and heal intervals (seconds).
    election_timeout: float
    #: Longest acceptable leaderless window with a healthy majority (seconds).
    election_deadline: float
    #: Workloads whose operations this target supports (``none`` always works).
    workloads: tuple[str, ...]
    #: Names of several peer ports (ZooKeeper: quorum, election): each gets its own port
    #: per node and its own proxy per pair; ``launch`` then receives, per peer, a mapping
    #: of port name to address, and the node's own entry holds its real ports.
    peer_ports: tuple[str, ...]
    #: One client port and one distinct peer port per node (etcd); else peers dial the
    #: node's client port (the reference nodes).
    separate_peer_port: bool
    #: ``--runtime docker``: the image nodes run in and the port they serve on inside
    #: it; ``None`` for chaoskit's own node image and port.
    docker_image: str | None
    docker_port: int | None

    def configure(self, options: Mapping[str, str]) -> None:
        """Take ``-o key=value`` options; raise ``ConfigError`` for unknown ones."""

    def launch(self, node: NodeInfo, peers: Mapping[str, Any]) -> Launch:
        """The command that starts ``node``; ``peers`` maps id to the address to dial."""

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        """Ask ``node`` who leads; raise any exception when it does not answer."""

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        """Carry out a client operation (``f``, ``key``, ``value``) on ``node``."""

    def client(self) -> Any:
        """A fresh client object (``chaoskit.core.client.Client``) for one logical client
        process, or None: the runner then calls ``invoke`` for every operation."""

    async def aclose(self) -> None:
        """Release what the target holds between calls (client sessions); idempotent."""


class TargetBase:
    """Defaults of a ``Target``'s optional abilities. A subclass sets ``name``,
    ``description``, ``default_policy``, ``election_timeout``, ``election_deadline`` and
    ``workloads``, and writes ``launch`` and ``status`` (and ``invoke`` for workloads).
    """

    name: str
    proxy_mode: ProxyMode = "pair"
    peer_ports: tuple[str, ...] = ()
    separate_peer_port: bool = False
    docker_image: str | None = None
    docker_port: int | None = None

    def configure(self, options: Mapping[str, str]) -> None:
        """A target without options refuses any (``ConfigError``)."""
        if options:
            raise ConfigError(
                f"target '{self.name}' takes no options (got: {', '.join(sorted(options))})"
            )

    def launch(self, node: NodeInfo, peers: Mapping[str, Any]) -> Launch:
        raise NotImplementedError

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        raise NotImplementedError

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        """A target without client operations fails every one (it never happened)."""
        return Outcome("fail", error=f"target '{self.name}' has no client operations")

    def client(self) -> Any:
        """No client objects: operations go through ``invoke``."""
        return None

    async def aclose(self) -> None:
        """Nothing held by default."""
