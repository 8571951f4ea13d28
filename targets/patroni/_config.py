"""The files of one patroni node: Patroni's configuration and the wrapper's JSON.

Pure functions of the settings and addresses, unit-tested without Patroni. Every
address a peer dials is a proxy in front of the node it leads to (destination mode,
one proxy per node per port): etcd's advertised peer URL, Patroni's REST
``connect_address`` and PostgreSQL's ``connect_address`` are published to the other
nodes (through etcd's membership and Patroni's DCS keys), so each must be the one
address every peer uses. Patroni talks to its own node's etcd member only
(``use_proxies``: no discovery of the other members' client URLs, which are not
behind the fault network): a node cut off from the others is cut off whole.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoskit.errors import SetupError

#: The peer ports of a node, each behind a proxy per node: etcd's peer port, Patroni's
#: REST API (other members ask it during a failover), PostgreSQL (replication).
PEER_PORTS = ("etcd", "rest", "postgres")
PG_BIN = Path("/usr/lib/postgresql/15/bin")
DEBIAN_PYTHON = "/usr/bin/python3"
USER = "postgres"
PASSWORD = "chaoskit"
INSTALL_HINT = "apt-get install -y patroni postgresql etcd-server"
NODE_SCRIPT = Path(__file__).with_name("_node.py")

Address = tuple[str, int]


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Patroni's timing (seconds) and the PostgreSQL installation."""

    ttl: int = 10
    loop_wait: int = 1
    retry_timeout: int = 3
    pg_bin: Path = PG_BIN
    #: ``synchronous_mode``: a commit waits for a replica (no acknowledged write lost
    #: on failover, at the price of stalls); off by default, as in Patroni.
    synchronous: bool = False


def check_installation(settings: Settings) -> None:
    """``SetupError`` naming the packages when Patroni, PostgreSQL or etcd is missing."""
    missing = [
        what
        for what, ok in (
            ("patroni", Path("/usr/lib/python3/dist-packages/patroni").is_dir()),
            ("postgresql", (settings.pg_bin / "postgres").exists()),
            ("etcd", shutil.which("etcd") is not None),
            ("python3", Path(DEBIAN_PYTHON).exists()),
        )
        if not ok
    ]
    if missing:
        raise SetupError(f"the patroni target needs {', '.join(missing)}: {INSTALL_HINT}")


def reachable_by_postgres(path: Path) -> None:
    """``SetupError`` unless every parent of ``path`` lets others through (``o+x``):
    PostgreSQL runs as ``postgres`` and must reach its data directory."""
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise SetupError(
                f"the patroni target runs PostgreSQL as user {USER}, who cannot enter "
                f"{parent}: store runs in a directory every user may traverse (--store)"
            )


def hostport(addr: Address) -> str:
    return f"{addr[0]}:{addr[1]}"


def patroni_config(
    name: str,
    data_dir: Path,
    etcd_client: Address,
    own: Mapping[str, Address],
    fronts: Mapping[str, Address],
    settings: Settings,
) -> dict[str, Any]:
    """Patroni's configuration for node ``name``; ``own`` holds its real addresses by
    port name (where it listens), ``fronts`` the proxies in front of it (what it
    publishes: ``ProxyNetwork.setup`` in destination mode)."""
    hba = [
        "local all all trust",
        "host all all 127.0.0.1/32 trust",
        "host replication all 127.0.0.1/32 trust",
    ]
    return {
        "scope": "chaoskit",
        "name": name,
        "log": {"level": "INFO"},
        "restapi": {
            "listen": hostport(own["rest"]),
            "connect_address": hostport(fronts["rest"]),
        },
        "etcd3": {"hosts": [hostport(etcd_client)], "use_proxies": True, "protocol": "http"},
        "bootstrap": {
            "dcs": {
                "ttl": settings.ttl,
                "loop_wait": settings.loop_wait,
                "retry_timeout": settings.retry_timeout,
                "maximum_lag_on_failover": 1048576,
                "synchronous_mode": settings.synchronous,
                "postgresql": {
                    "use_pg_rewind": True,
                    "parameters": {
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "wal_log_hints": "on",
                        "max_connections": 60,
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, {"locale": "C"}],
            "pg_hba": hba,
        },
        "postgresql": {
            "listen": hostport(own["postgres"]),
            "connect_address": hostport(fronts["postgres"]),
            "data_dir": str(data_dir / "pgdata"),
            "bin_dir": str(settings.pg_bin),
            "pgpass": str(data_dir / "patroni" / "pgpass"),
            "authentication": {
                "superuser": {"username": USER, "password": PASSWORD},
                "replication": {"username": USER, "password": PASSWORD},
                "rewind": {"username": USER, "password": PASSWORD},
            },
            "parameters": {
                # No Unix socket: its path (under the run's store) would easily pass
                # the 107 bytes a socket path may have, and PostgreSQL would not start.
                # Patroni and the clients use TCP.
                "unix_socket_directories": "",
                "shared_buffers": "16MB",
                # Dynamic shared memory as files in the data directory, not POSIX
                # segments in /dev/shm: a PostgreSQL killed by a fault (SIGKILL, power
                # loss) never removes its segments, and nothing else would (about 19
                # per CI run were left in /dev/shm). Files go with the run's data.
                "dynamic_shared_memory_type": "mmap",
            },
            "pg_hba": hba,
        },
    }


def write_node_files(
    name: str,
    data_dir: Path,
    etcd_argv: list[str],
    etcd_client: Address,
    own: Mapping[str, Address],
    fronts: Mapping[str, Address],
    settings: Settings,
) -> Path:
    """Write ``patroni.yml`` (JSON is YAML) and ``node.json`` for the wrapper; return
    the latter's path."""
    patroni_dir = data_dir / "patroni"
    patroni_dir.mkdir(parents=True, exist_ok=True)
    yml = patroni_dir / "patroni.yml"
    yml.write_text(json.dumps(patroni_config(name, data_dir, etcd_client, own, fronts, settings)))
    node = data_dir / "node.json"
    node.write_text(
        json.dumps(
            {
                "etcd_argv": etcd_argv,
                "user": USER,
                "etcd_url": f"http://{hostport(etcd_client)}",
                "owned_dirs": [str(patroni_dir), str(data_dir / "pgdata"), str(data_dir / "etcd")],
                "pg_data": str(data_dir / "pgdata"),
                "patroni_config": str(yml),
            },
            indent=2,
        )
    )
    return node


def node_argv(node_file: Path) -> list[str]:
    return [DEBIAN_PYTHON, str(NODE_SCRIPT), str(node_file)]
