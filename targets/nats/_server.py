"""How one nats-server of a JetStream cluster is configured and started by hand.

Pure functions of the settings and addresses, unit-tested without a server. Routes go
to the proxy in front of each node (destination mode, as for etcd): NATS gossips the
route address a server advertises, so every server must be known at one address,
and that address must be its proxy; a server finds itself in the route list and
ignores that route. Client connections use the node's own client port, never cut.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chaoskit.errors import SetupError

INSTALL_HINT = "install Debian's nats-server: apt-get install -y nats-server"
CLUSTER = "chaoskit"


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """Knobs of a test cluster; pings every second so a hung route is noticed quickly."""

    binary: str = "nats-server"
    ping_interval_s: int = 1
    ping_max: int = 3
    max_memory_mb: int = 64
    max_file_mb: int = 512


def find_binary(settings: ServerSettings) -> str:
    path = shutil.which(settings.binary)
    if path is None:
        raise SetupError(f"no '{settings.binary}' executable on PATH ({INSTALL_HINT})")
    return path


def server_conf(
    name: str,
    client: tuple[str, int],
    cluster: tuple[str, int],
    monitor: tuple[str, int],
    fronts: Mapping[str, tuple[str, int]],
    data_dir: Path,
    settings: ServerSettings,
) -> str:
    """nats-server's configuration for node ``name`` (JSON is valid NATS config)."""

    def hostport(addr: tuple[str, int]) -> str:
        return f"{addr[0]}:{addr[1]}"

    conf = {
        "server_name": name,
        "listen": hostport(client),
        "http": hostport(monitor),
        "ping_interval": f"{settings.ping_interval_s}s",
        "ping_max": settings.ping_max,
        "jetstream": {
            "store_dir": str(data_dir / "jetstream"),
            "max_memory_store": settings.max_memory_mb * 1024 * 1024,
            "max_file_store": settings.max_file_mb * 1024 * 1024,
        },
        "cluster": {
            "name": CLUSTER,
            "listen": hostport(cluster),
            # Peers must reach this server through its proxy, also by gossip.
            "advertise": hostport(fronts[name]),
            # Clients are told about no other server: a client stays on its node.
            "no_advertise": True,
            "routes": [f"nats-route://{hostport(a)}" for _, a in sorted(fronts.items())],
        },
    }
    return json.dumps(conf, indent=2) + "\n"


def write_conf(data_dir: Path, text: str) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "nats.conf"
    path.write_text(text)
    return path
