"""``NatsTarget``: a real NATS JetStream cluster (Debian ``nats-server`` 2.9), by hand.

Node ``i`` is one ``nats-server``: clients on its ``client`` port, routes on its
``cluster`` port behind one proxy per node (destination mode: NATS gossips the route
address each server advertises, so that address must be the proxy's; the proxy tells
the dialing server by its process), monitoring on its ``monitor`` port.
Leadership is what ``/jsz`` names for the observed Raft group: the JetStream meta
leader by default, or the leader of the test KV bucket or stream. NATS 2.9 exposes no
term, so the default policy is ``strict``: an isolated leader that has not stepped
down yet is reported beside its successor.

Options (``-o key=value``): ``group`` (``meta`` | ``kv`` | ``stream``), ``replicas``
(of the bucket and stream, 3), ``reads`` (``leader`` | ``direct``), ``binary``
(``nats-server``), ``ping-interval`` (seconds, 1).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx

from chaoskit.core.plugins import unknown_message
from chaoskit.core.target import Launch, NodeInfo, Peers, Port, Status, TargetBase
from chaoskit.errors import ConfigError
from chaoskit.targets._options import positive_int
from chaoskit.targets.nats._client import (
    BUCKET,
    READ_MODES,
    STREAM,
    Assets,
    NatsClient,
    ensure_assets,
)
from chaoskit.targets.nats._monitor import GROUPS, JSZ, Group, parse_jsz
from chaoskit.targets.nats._server import ServerSettings, find_binary, server_conf, write_conf

OPTIONS = ("group", "replicas", "reads", "binary", "ping-interval")
#: Seconds between two attempts to create the bucket and stream for observation.
ENSURE_EVERY_S = 1.0
ENSURE_TIMEOUT_S = 5.0


class NatsTarget(TargetBase):
    """nats-server JetStream cluster on loopback; register and set through nats-py."""

    name = "nats"
    description = "NATS JetStream cluster (Debian nats-server): KV compare-and-set, stream set"
    default_policy: ClassVar[Any] = "strict"
    proxy_mode = "destination"
    ports = (Port("client"), Port("cluster", peer=True), Port("monitor"))
    workloads = ("none", "register", "set")
    #: NATS Raft: elections after 4-9 s of silence from the leader (2.9 defaults).
    election_timeout = 5.0
    election_deadline = 20.0
    #: Faults start once every server names the observed group's leader (the bucket or
    #: stream exists then); a fault of 12 s outlasts an election, a heal of 10 s lets
    #: the cluster recover (failovers took 4.6-7.9 s: docs/targets/nats.md). The
    #: default sizing, ten election timeouts, would give 50 s intervals.
    ready = "roles"
    fault_s = 12.0
    heal_s = 10.0

    def __init__(self) -> None:
        self.settings = ServerSettings()
        self.group: Group = "meta"
        self.assets = Assets()
        self._ensured = False
        self._ensure_tried = 0.0
        self._ensuring: asyncio.Task[None] | None = None

    def configure(self, options: Mapping[str, str]) -> None:
        """Check the options and that nats-server is installed."""
        settings: dict[str, Any] = {}
        assets: dict[str, Any] = {}
        for key, text in options.items():
            if key == "group":
                if text not in GROUPS:
                    raise ConfigError(unknown_message("nats group", text, list(GROUPS)))
                self.group = text
            elif key == "reads":
                if text not in READ_MODES:
                    raise ConfigError(unknown_message("nats read mode", text, list(READ_MODES)))
                assets["reads"] = text
            elif key == "replicas":
                assets["replicas"] = positive_int(key, text)
            elif key == "binary":
                settings["binary"] = text
            elif key == "ping-interval":
                settings["ping_interval_s"] = positive_int(key, text)
            else:
                raise ConfigError(unknown_message("nats option", key, list(OPTIONS)))
        self.settings = dataclasses.replace(self.settings, **settings)
        self.assets = dataclasses.replace(self.assets, **assets)
        find_binary(self.settings)

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        """Write the server's config (routes to every node's proxy) and its command."""
        data_dir = node.data_dir.resolve()
        conf = server_conf(
            node.id,
            (node.host, node.ports["client"]),
            (node.host, node.ports["cluster"]),
            (node.host, node.ports["monitor"]),
            {nid: addrs["cluster"] for nid, addrs in peers.items()},
            data_dir,
            self.settings,
        )
        return Launch(argv=[find_binary(self.settings), "-c", str(write_conf(data_dir, conf))])

    def client(self) -> NatsClient:
        """A fresh client plug-in object (one per logical client process)."""
        return NatsClient(self.assets)

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        """The role ``/jsz`` gives ``node`` in the observed group."""
        url = f"http://{node.host}:{node.ports['monitor']}{JSZ}"
        resp = await http.get(url, timeout=timeout)
        resp.raise_for_status()
        body = resp.json()
        stream = f"KV_{BUCKET}" if self.group == "kv" else STREAM
        status = parse_jsz(body, node.id, self.group, stream)
        if self.group != "meta" and status.leader is None:
            self._ensure(node, body)
        return status

    def _ensure(self, node: NodeInfo, body: Mapping[str, Any]) -> None:
        """Create the observed bucket/stream in the background once a meta leader
        exists, so that their leaders can be observed before any client runs (one
        attempt at a time, at most one a second: the observer polls often)."""
        loop = asyncio.get_running_loop()
        meta = body.get("meta_cluster") or {}
        busy = self._ensuring is not None and not self._ensuring.done()
        if self._ensured or busy or not meta.get("leader"):
            return
        if loop.time() - self._ensure_tried < ENSURE_EVERY_S:
            return
        self._ensure_tried = loop.time()
        self._ensuring = asyncio.create_task(self._create_assets(node), name="nats-assets")

    async def _create_assets(self, node: NodeInfo) -> None:
        try:
            await ensure_assets(node.host, node.port, self.assets, ENSURE_TIMEOUT_S)
        except Exception:  # noqa: BLE001 - tried again on a later status
            return
        self._ensured = True

    async def aclose(self) -> None:
        """Stop creating assets (at the end of a run)."""
        if self._ensuring is not None:
            self._ensuring.cancel()
