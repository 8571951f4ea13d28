"""The Target part: how to launch node i and how to ask it who leads.

A target is the system under test. It knows nothing of faults: it declares the
named ports every node listens on (``ports``: which of them peers dial), the
controller allocates them and gives the target, for every node, those ports and the
addresses at which it must reach its peers (fault proxies, not the peers
themselves), and asks it for a command line. It also knows how to ask a node "role,
term, leader?", how to carry out a client operation for a workload, and what "the
cluster has started" means before the first fault (``ready``, ``settle_s``).

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
#: What "started" means before the first fault: every node answers its status probe;
#: and one of them leads; or every node leads or follows (none is a candidate) and
#: one leads.
Ready = Literal["answer", "leader", "roles"]
READY: tuple[Ready, ...] = ("answer", "leader", "roles")
Address = tuple[str, int]
#: What ``Target.launch`` gets: per node id, per peer-port name, the address to dial.
Peers = Mapping[str, Mapping[str, Address]]


@dataclass(frozen=True)
class Port:
    """One named port of every node. ``peer``: the node's peers dial it, so it sits
    behind the fault proxies; other ports (client, monitoring) are reached only by
    chaoskit and are never cut."""

    name: str
    peer: bool = False


@dataclass(frozen=True)
class NodeInfo:
    """One node of the cluster as the controller allocated it.

    ``ports`` holds every named port of the node (where it listens), in the order of
    the target's ``ports``; the first is the node's ``port``, where chaoskit reaches
    it (status, client operations).
    """

    id: str
    index: int
    host: str
    ports: Mapping[str, int] = field(hash=False)
    data_dir: Path

    @property
    def port(self) -> int:
        """The node's first named port: its API, where chaoskit reaches it."""
        return next(iter(self.ports.values()))

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
    #: The named ports of every node, the first being where chaoskit reaches it; at
    #: least one is a peer port. Each gets a port per node, and each peer port a proxy
    #: per ordered pair (or one per node in destination mode).
    ports: tuple[Port, ...]
    #: Before the first fault the cluster must be ``ready`` (checked on the observer's
    #: answers) and then stay healthy ``settle_s`` seconds under load.
    ready: Ready
    settle_s: float
    #: Fault and heal lengths of the schedule (seconds), or None: sized to
    #: ``election_timeout``. ``--fault-seconds`` and ``--heal-seconds`` override them.
    fault_s: float | None
    heal_s: float | None
    #: ``--runtime docker``: the image nodes run in and the port they serve on inside
    #: it; ``None`` for chaoskit's own node image and port.
    docker_image: str | None
    docker_port: int | None

    def configure(self, options: Mapping[str, str]) -> None:
        """Take ``-o key=value`` options; raise ``ConfigError`` for unknown ones."""

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        """The command that starts ``node``; ``peers`` maps each peer's id to the
        address to dial per peer port. In destination mode it holds the node's own
        id too: the addresses its peers reach it at (what it must advertise)."""

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
    #: One port, the node's API, which its peers dial too (the reference nodes).
    ports: tuple[Port, ...] = (Port("api", peer=True),)
    ready: Ready = "answer"
    settle_s: float = 0.0
    fault_s: float | None = None
    heal_s: float | None = None
    docker_image: str | None = None
    docker_port: int | None = None

    def configure(self, options: Mapping[str, str]) -> None:
        """A target without options refuses any (``ConfigError``)."""
        if options:
            raise ConfigError(
                f"target '{self.name}' takes no options (got: {', '.join(sorted(options))})"
            )

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
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


def peer_ports(target: Target) -> list[str]:
    """The names of the target's peer ports, in its order."""
    return [p.name for p in target.ports if p.peer]


def check_ports(target: Target) -> None:
    """``ConfigError`` unless the target declares ports chaoskit can allocate: at least
    one, distinct names, at least one that peers dial."""
    names = [p.name for p in target.ports]
    if not names:
        raise ConfigError(f"target '{target.name}' declares no ports")
    if len(set(names)) != len(names):
        raise ConfigError(f"target '{target.name}' declares a port twice: {', '.join(names)}")
    if not peer_ports(target):
        raise ConfigError(
            f"target '{target.name}' declares no peer port (ports: {', '.join(names)}): "
            "partitions would have nothing to cut"
        )
