"""How one ZooKeeper 3.8 server is started by hand: its zoo.cfg, myid and java command.

Pure functions of the settings and the addresses chaoskit allocated, so they are
unit-tested without a JVM. Server ``i``'s own ``server.i`` line carries its real
quorum and election ports (where it listens); every other line points at the fault
proxies ``i -> j``, which works because ZooKeeper servers know each other by id,
not by the address a connection comes from.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chaoskit.errors import ConfigError

JAVA_DIR = Path("/usr/share/java")
#: zookeeper.jar alone has no logger binding, and the AdminServer needs servlet-api.
JARS = ("zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar")
MAIN_CLASS = "org.apache.zookeeper.server.quorum.QuorumPeerMain"
INSTALL_HINT = "install Debian's ZooKeeper: apt-get install -y zookeeper"
#: Peer ports per server, in the order ``server.N=host:QUORUM:ELECTION`` wants them.
PEER_PORTS = ("quorum", "election")

Addresses = Mapping[str, Mapping[str, tuple[str, int]]]


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """The knobs of a test ensemble; short ticks so that elections take about a second."""

    tick_ms: int = 500
    init_limit: int = 10
    sync_limit: int = 4
    heap_mb: int = 128
    #: Caps FastLeaderElection's back-off (60 s by default) so a healed node rejoins fast.
    max_notification_ms: int = 2000
    java: str = "java"
    java_dir: Path = JAVA_DIR


def server_ids(ids: list[str] | tuple[str, ...] | Mapping[str, object]) -> dict[str, int]:
    """ZooKeeper's numeric server id (``myid``) per chaoskit node id: n1 -> 1, n2 -> 2.

    Every node computes the same numbering from the same set of ids (natural order:
    n2 before n10), which is all ZooKeeper needs.
    """
    ordered = sorted(ids, key=lambda nid: (len(nid), nid))
    return {nid: i + 1 for i, nid in enumerate(ordered)}


def zoo_cfg(
    node: str, client_port: int, data_dir: Path, peers: Addresses, settings: ServerSettings
) -> str:
    """The text of ``zoo.cfg`` for ``node``; ``peers[node]`` holds its own real ports."""
    lines = [
        f"tickTime={settings.tick_ms}",
        f"initLimit={settings.init_limit}",
        f"syncLimit={settings.sync_limit}",
        f"dataDir={data_dir}",
        f"clientPort={client_port}",
        "clientPortAddress=127.0.0.1",
        "admin.enableServer=false",
        "4lw.commands.whitelist=srvr,mntr,ruok,stat,conf",
        "autopurge.purgeInterval=0",
    ]
    for nid, sid in sorted(server_ids(peers).items(), key=lambda item: item[1]):
        ports = peers[nid]
        missing = [p for p in PEER_PORTS if p not in ports]
        if missing:
            raise ConfigError(
                f"zookeeper needs peer ports {', '.join(PEER_PORTS)} for {nid}; "
                f"the controller gave {', '.join(sorted(ports)) or 'none'}"
            )
        (qhost, qport), (_ehost, eport) = ports["quorum"], ports["election"]
        lines.append(f"server.{sid}={qhost}:{qport}:{eport}")
    return "\n".join(lines) + "\n"


def with_own_ports(
    node: str, host: str, ports: Mapping[str, int], peers: Addresses
) -> dict[str, Mapping[str, tuple[str, int]]]:
    """``peers`` (the proxies to dial, per peer) plus the node's own real quorum and
    election ports, where it listens: its own ``server.i`` line."""
    return {**peers, node: {kind: (host, ports[kind]) for kind in PEER_PORTS}}


def write_server_files(
    node: str, client_port: int, data_dir: Path, peers: Addresses, settings: ServerSettings
) -> Path:
    """Write ``zoo.cfg`` and ``myid`` into ``data_dir``; return the config's path."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "myid").write_text(f"{server_ids(peers)[node]}\n")
    cfg = data_dir / "zoo.cfg"
    cfg.write_text(zoo_cfg(node, client_port, data_dir, peers, settings))
    return cfg


def classpath(settings: ServerSettings) -> str:
    """The jars a hand-started server needs; ``ConfigError`` naming the package if absent."""
    paths = [settings.java_dir / jar for jar in JARS]
    missing = [p.name for p in paths if not p.exists()]
    if missing:
        raise ConfigError(
            f"ZooKeeper jars not found in {settings.java_dir}: {', '.join(missing)}"
            f" ({INSTALL_HINT})"
        )
    return os.pathsep.join(str(p) for p in paths)


def java_binary(settings: ServerSettings) -> str:
    """The java executable to run; ``ConfigError`` when there is none."""
    found = shutil.which(settings.java)
    if found is None:
        raise ConfigError(f"no '{settings.java}' executable on PATH ({INSTALL_HINT})")
    return found


def java_argv(cfg: Path, settings: ServerSettings) -> list[str]:
    """The command line of one server: a small heap, quick start, logs on stderr."""
    return [
        java_binary(settings),
        f"-Xmx{settings.heap_mb}m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
        "-Dorg.slf4j.simpleLogger.showDateTime=true",
        f"-Dzookeeper.fastleader.maxNotificationInterval={settings.max_notification_ms}",
        "-Dzookeeper.fastleader.minNotificationInterval=200",
        "-Dzookeeper.cnxTimeout=1000",
        "-cp",
        classpath(settings),
        MAIN_CLASS,
        str(cfg),
    ]
