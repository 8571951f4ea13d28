"""``PatroniTarget``: PostgreSQL 15 managed by Patroni 3.0, with etcd 3.4 as its store.

Per chaoskit node, one process group (``_node.py``): an etcd member, Patroni and the
PostgreSQL it manages. Its first port, ``client``, is the node's etcd client port
(its Patroni talks to that member only); the peer ports ``etcd``, ``rest`` and
``postgres`` each sit behind one proxy per node (destination mode: the addresses are published
through etcd and Patroni's keys, so every peer dials the same one). The leader is the
node whose Patroni REST API (``GET /patroni``) says its PostgreSQL is the primary
(``role: master``, not in recovery), and the term is PostgreSQL's timeline, which
each promotion raises. A demoted primary is a real second writer until Patroni
notices it lost the leader key, so the default policy is ``strict``.

Options (``-o key=value``): ``ttl`` (leader key TTL, s, 10), ``loop-wait`` (1),
``retry-timeout`` (3), ``synchronous`` (false: Patroni's default asynchronous
replication; true: ``synchronous_mode``), ``pg-bin`` (PostgreSQL's binaries).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx

from chaoskit.core.plugins import unknown_message
from chaoskit.core.target import Launch, NodeInfo, Peers, Port, Status, TargetBase
from chaoskit.errors import ConfigError
from chaoskit.targets._options import positive_int, switch
from chaoskit.targets.etcd._command import Timing, find_binary, member_argv
from chaoskit.targets.patroni._client import PgClient
from chaoskit.targets.patroni._config import (
    PEER_PORTS,
    Settings,
    check_installation,
    node_argv,
    reachable_by_postgres,
    write_node_files,
)

OPTIONS = ("ttl", "loop-wait", "retry-timeout", "synchronous", "pg-bin")
_INTS = {"ttl": "ttl", "loop-wait": "loop_wait", "retry-timeout": "retry_timeout"}
PRIMARY_ROLES = ("master", "primary")


class PatroniTarget(TargetBase):
    """Patroni + PostgreSQL + etcd per node on loopback; SQL through psycopg."""

    name = "patroni"
    description = "Patroni 3.0 + PostgreSQL 15 with a 3-member etcd (Debian): SQL register, set"
    default_policy: ClassVar[Any] = "strict"
    proxy_mode = "destination"
    ports = (Port("client"), *(Port(kind, peer=True) for kind in PEER_PORTS))
    workloads = ("none", "register", "set")
    #: Faults start once the primary runs and every replica streams (they are built
    #: 10-15 s after start: docs/targets/patroni.md, finding 4). A fault of 25 s
    #: outlasts a failover (10-14 s with the 10 s TTL), a heal of 20 s lets a healed
    #: node rejoin; the default sizing, ten TTLs, would give 100 s intervals.
    ready = "roles"
    fault_s = 25.0
    heal_s = 20.0

    def __init__(self) -> None:
        self.settings = Settings()
        self.etcd_timing = Timing()

    @property
    def election_timeout(self) -> float:
        """A lost primary is replaced once its leader key expires (the TTL)."""
        return float(self.settings.ttl)

    @property
    def election_deadline(self) -> float:
        """The TTL, Patroni's loop, a promotion, and room for a slow machine."""
        return 2.0 * self.settings.ttl + 10 * self.settings.loop_wait

    def configure(self, options: Mapping[str, str]) -> None:
        """Check the options and that Patroni, PostgreSQL and etcd are installed."""
        changes: dict[str, Any] = {}
        for key, text in options.items():
            if key in _INTS:
                changes[_INTS[key]] = positive_int(key, text)
            elif key == "synchronous":
                changes["synchronous"] = switch(key, text)
            elif key == "pg-bin":
                changes["pg_bin"] = Path(text)
            else:
                raise ConfigError(unknown_message("patroni option", key, list(OPTIONS)))
        settings = dataclasses.replace(self.settings, **changes)
        if settings.ttl < settings.loop_wait + 2 * settings.retry_timeout:
            raise ConfigError("patroni needs ttl >= loop-wait + 2 * retry-timeout")
        check_installation(settings)
        self.settings = settings

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        """Write the node's files; its command is the wrapper under Debian's Python."""
        data_dir = node.data_dir.resolve()
        reachable_by_postgres(data_dir)
        fronts = peers.get(node.id, {})
        if any(k not in fronts for k in PEER_PORTS):
            raise ConfigError(
                f"patroni needs destination-mode fronts for {', '.join(PEER_PORTS)}; "
                f"the controller gave {', '.join(sorted(fronts)) or 'none'}"
            )
        own = {kind: (node.host, node.ports[kind]) for kind in PEER_PORTS}
        etcd = member_argv(
            find_binary("etcd"),
            node.id,
            data_dir / "etcd",
            (node.host, node.port),
            own["etcd"],
            {nid: addrs["etcd"] for nid, addrs in peers.items()},
            token=f"chaoskit-{data_dir.parent.parent.name}",
            timing=self.etcd_timing,
        )
        node_file = write_node_files(
            node.id, data_dir, etcd, (node.host, node.port), own, fronts, self.settings
        )
        return Launch(argv=node_argv(node_file), cwd=data_dir)

    def client(self) -> PgClient:
        """A fresh client plug-in object (one per logical client process)."""
        return PgClient()

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        """``GET /patroni`` on the node's real REST port: primary or not, and the timeline."""
        url = f"http://{node.host}:{node.ports['rest']}/patroni"
        resp = await http.get(url, timeout=timeout)
        body = resp.json()  # 503 answers carry the same JSON (a replica, a stopped node)
        return parse_patroni(body)


def parse_patroni(body: Mapping[str, Any]) -> Status:
    """Leader when PostgreSQL runs as the primary; a node whose PostgreSQL is not
    running (starting, stopped, bootstrapping) is a candidate."""
    role, state = body.get("role"), body.get("state")
    if not isinstance(role, str) or not isinstance(state, str):
        raise ValueError(f"/patroni answer without role and state: {dict(body)!r}")
    timeline = body.get("timeline")
    term = timeline if isinstance(timeline, int) and timeline > 0 else None
    if state != "running":
        return Status("candidate", term, None)
    return Status("leader" if role in PRIMARY_ROLES else "follower", term, None)
