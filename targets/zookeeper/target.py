"""``ZooKeeperTarget``: a real ZooKeeper 3.8 ensemble, started by hand on loopback.

Node ``i`` is one ``QuorumPeerMain`` JVM. Its ``client`` port (``node.port``) serves
kazoo and the ``srvr`` four-letter word; its ``quorum`` and ``election`` ports are
peer ports, so the controller puts a fault proxy on each per ordered pair.
Leadership is the ``srvr`` Mode, the term is the epoch (zxid >> 32).

Options (``-o key=value``): ``tick-ms`` (500), ``init-limit`` (10), ``sync-limit`` (4),
``heap-mb`` (128), ``session-timeout`` (kazoo, seconds, 4), ``reads``
(``quorum`` | ``sync`` | ``local``, see ``_client.py``), ``java`` (executable),
``java-dir`` (where the jars are, ``/usr/share/java``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx

from chaoskit.core.plugins import unknown_message
from chaoskit.core.target import Launch, NodeInfo, Outcome, Peers, Port, Status, TargetBase
from chaoskit.errors import ConfigError
from chaoskit.targets._options import positive, positive_int
from chaoskit.targets.zookeeper._client import READ_MODES, ReadMode, ZkClients
from chaoskit.targets.zookeeper._fourlw import four_letter_word, parse_srvr
from chaoskit.targets.zookeeper._server import (
    PEER_PORTS,
    ServerSettings,
    classpath,
    java_argv,
    java_binary,
    with_own_ports,
    write_server_files,
)

_INTS = {
    "tick-ms": "tick_ms",
    "init-limit": "init_limit",
    "sync-limit": "sync_limit",
    "heap-mb": "heap_mb",
}
OPTIONS = (*_INTS, "session-timeout", "reads", "java", "java-dir")


class ZooKeeperTarget(TargetBase):
    """Debian's ZooKeeper 3.8: ZAB leader election, epochs as terms, kazoo clients."""

    name = "zookeeper"
    description = "real ZooKeeper 3.8 ensemble (Debian package), register through kazoo"
    #: A deposed ZAB leader cannot commit (it needs a quorum's acks), so overlaps
    #: across epochs are reported but allowed.
    default_policy: ClassVar[Any] = "per-term"
    ports = (Port("client"), *(Port(kind, peer=True) for kind in PEER_PORTS))
    workloads = ("none", "register", "kv")

    def __init__(self) -> None:
        self.settings = ServerSettings()
        self.session_timeout = 4.0
        self.read_mode: ReadMode = "quorum"
        self._clients: ZkClients | None = None

    @property
    def election_timeout(self) -> float:
        """How long followers take to give up on a silent leader, plus an election."""
        return self.settings.sync_limit * self.settings.tick_ms / 1000.0 + 1.0

    @property
    def election_deadline(self) -> float:
        """Noticing the loss, electing, and the new leader syncing its followers."""
        return 2 * self.election_timeout + self.settings.init_limit * self.settings.tick_ms / 1000

    def configure(self, options: Mapping[str, str]) -> None:
        """Check the options, and that java and the ZooKeeper jars are installed."""
        changes: dict[str, Any] = {}
        for key, text in options.items():
            if key in _INTS:
                changes[_INTS[key]] = positive_int(key, text)
            elif key == "java":
                changes["java"] = text
            elif key == "java-dir":
                changes["java_dir"] = Path(text)
            elif key == "session-timeout":
                self.session_timeout = float(positive(key, text, float))
            elif key == "reads":
                if text not in READ_MODES:
                    raise ConfigError(unknown_message("read mode", text, list(READ_MODES)))
                self.read_mode = text
            else:
                raise ConfigError(unknown_message("zookeeper option", key, list(OPTIONS)))
        self.settings = dataclasses.replace(self.settings, **changes)
        java_binary(self.settings)
        classpath(self.settings)

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        """Write the server's zoo.cfg and myid into its data dir; the java command line."""
        data_dir = node.data_dir.resolve()  # the JVM runs in it: relative paths would break
        servers = with_own_ports(node.id, node.host, node.ports, peers)
        cfg = write_server_files(node.id, node.port, data_dir, servers, self.settings)
        return Launch(argv=java_argv(cfg, self.settings), cwd=data_dir)

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        """``srvr`` on the client port; raises when the server does not answer."""
        text = await four_letter_word(node.host, node.port, "srvr", timeout)
        return parse_srvr(text, node.id)

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        """A register/kv op through the kazoo session to ``node``."""
        if self._clients is None:
            self._clients = ZkClients(
                session_timeout=self.session_timeout, read_mode=self.read_mode
            )
        return await self._clients.invoke(node, op, timeout)

    async def aclose(self) -> None:
        """Close the kazoo sessions (the controller calls this when the run ends)."""
        if self._clients is not None:
            clients, self._clients = self._clients, None
            await clients.close()
