"""``ZkElectionTarget``: candidates using kazoo's Election recipe on a ZooKeeper ensemble.

The nodes chaoskit controls are the candidates (``_client``); each starts one server
of a 3- or 5-server ZooKeeper ensemble beside it, configured exactly as the
``zookeeper`` target configures its servers (``chaoskit.targets.zookeeper._server``): quorum
and election traffic through a fault proxy per ordered pair, the client port
private to the candidate. So ``pause-leader`` stops only the candidate that holds the
lock, while its server and the ensemble carry on and expire its session.

The default policy is ``strict``: the candidates act on leadership with no fencing,
so two candidates that both believe they lead are a split-brain whatever their
terms (the lock znodes' creation zxids, reported as terms, are the fencing tokens
they ignore).

Options (``-o key=value``): ``session-timeout`` (kazoo, seconds, 2), ``handling``
(``listener`` | ``polling``, see ``_client``), ``tick-ms`` (100), ``check-ticks``
(6, polling only), ``heap-mb`` (128), ``java``, ``java-dir``.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from chaoskit.core.plugins import unknown_message
from chaoskit.core.target import Launch, NodeInfo, Peers, Port
from chaoskit.errors import ConfigError
from chaoskit.targets._node._target import python_launch
from chaoskit.targets._options import ElectionRecipe, positive_int
from chaoskit.targets.zk_election._client import HANDLINGS, Handling
from chaoskit.targets.zookeeper._server import (
    PEER_PORTS,
    ServerSettings,
    classpath,
    java_argv,
    java_binary,
    with_own_ports,
    write_server_files,
)

OPTIONS = ("session-timeout", "handling", "tick-ms", "check-ticks", "heap-mb", "java", "java-dir")
#: ZooKeeper grants session timeouts between 2 and 20 of its ticks.
MIN_SESSION_TICKS, MAX_SESSION_TICKS = 2, 20


class ZkElectionTarget(ElectionRecipe):
    """Leader election with kazoo's recipe: the example of a paused lock holder."""

    name = "zk-election"
    description = "example: candidates using kazoo's Election recipe on ZooKeeper, unfenced"
    default_policy: ClassVar[Any] = "strict"
    #: The candidate's status API, its server's quorum and election ports (proxied per
    #: pair) and its server's client port (private to the candidate, never cut).
    ports = (Port("api"), *(Port(kind, peer=True) for kind in PEER_PORTS), Port("zk-client"))
    workloads = ("none",)

    def __init__(self) -> None:
        self.settings = ServerSettings()
        self.session_timeout = 2.0
        self.handling: Handling = "polling"
        self.tick_ms = 100
        self.check_ticks = 6

    @property
    def election_timeout(self) -> float:
        """The next candidate takes over about one session timeout after a holder stops."""
        return self.session_timeout

    @property
    def election_deadline(self) -> float:
        """The session timeout, ZooKeeper's expiry sweep (a tick), a watch, with room."""
        return 2.0 * self.session_timeout + self.settings.tick_ms / 1000 + 2.0

    def configure(self, options: Mapping[str, str]) -> None:
        """Check the options, and that java and the ZooKeeper jars are installed."""
        for key, text in options.items():
            self._option(key, text)
        java_binary(self.settings)
        classpath(self.settings)
        tick_s = self.settings.tick_ms / 1000
        low, high = MIN_SESSION_TICKS * tick_s, MAX_SESSION_TICKS * tick_s
        if not low <= self.session_timeout <= high:
            raise ConfigError(
                f"option session-timeout must be between {low:g} and {high:g} s"
                f" (ZooKeeper grants 2 to 20 ticks of {tick_s:g} s)"
            )

    def _option(self, key: str, text: str) -> None:
        if key == "session-timeout":
            try:
                self.session_timeout = float(text)
            except ValueError:
                raise ConfigError(f"option {key} must be a number, got {text!r}") from None
        elif key == "handling":
            if text not in HANDLINGS:
                raise ConfigError(unknown_message("handling", text, list(HANDLINGS)))
            self.handling = text
        elif key in ("tick-ms", "check-ticks"):
            setattr(self, key.replace("-", "_"), positive_int(key, text))
        elif key == "heap-mb":
            self.settings = dataclasses.replace(self.settings, heap_mb=positive_int(key, text))
        elif key == "java":
            self.settings = dataclasses.replace(self.settings, java=text)
        elif key == "java-dir":
            self.settings = dataclasses.replace(self.settings, java_dir=Path(text))
        else:
            raise ConfigError(unknown_message("zk-election option", key, list(OPTIONS)))

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        """The candidate (status on its ``api`` port) with its server's zoo.cfg written
        now (client, quorum and election ports from the controller)."""
        work_dir = node.data_dir.resolve() / "zookeeper"
        port = node.ports["zk-client"]
        servers = with_own_ports(node.id, node.host, node.ports, peers)
        cfg = write_server_files(node.id, port, work_dir, servers, self.settings)
        argv = [sys.executable, "-m", "chaoskit.targets.zk_election", "--id", node.id]
        argv += ["--listen", f"{node.host}:{node.port}", "--zk", f"{node.host}:{port}"]
        argv += ["--work-dir", str(work_dir), "--session-timeout", str(self.session_timeout)]
        argv += ["--tick-ms", str(self.tick_ms), "--check-ticks", str(self.check_ticks)]
        argv += ["--handling", self.handling, "--", *java_argv(cfg, self.settings)]
        return python_launch(argv)
