"""``EtcdElectionTarget``: campaigning clients on a 3- or 5-member etcd, one per node.

The nodes chaoskit controls are the campaigning clients; each starts its own etcd
member beside it (``_client``), so ``pause-leader`` stops the client that holds the
lease while etcd carries on and expires it. etcd's peer traffic goes through one
proxy per member, as for the ``etcd`` target, so partitions work too.

The default policy is ``strict``: these clients act on leadership with no fencing,
so two clients that both believe they lead are a split-brain whatever their terms
(the leader key revisions, reported as terms, are the fencing tokens they ignore).

Options (``-o key=value``): ``ttl`` (lease seconds, 2), ``tick-ms`` (100),
``renew-ticks`` (6: renew about three times per TTL), ``binary`` (etcd).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from chaoskit.core.plugins import unknown_message
from chaoskit.core.target import Launch, NodeInfo, Peers, Port
from chaoskit.errors import ConfigError
from chaoskit.targets._node._target import python_launch
from chaoskit.targets._options import ElectionRecipe, positive_int
from chaoskit.targets.etcd._command import find_binary

OPTIONS = ("ttl", "tick-ms", "renew-ticks", "binary")
#: etcd refuses lease TTLs below 1.5 election timeouts (1.5 s at the default 1 s).
MIN_TTL_S = 2


class EtcdElectionTarget(ElectionRecipe):
    """Leader election through etcd leases: the example of an unfenced lease."""

    name = "etcd-election"
    description = "example: clients campaigning via etcd's election API (lease TTL), unfenced"
    default_policy: ClassVar[Any] = "strict"
    proxy_mode = "destination"
    #: The client's status API, its etcd member's peer port (behind the proxy) and
    #: client port (the campaigning client's own, never cut).
    ports = (Port("api"), Port("peer", peer=True), Port("etcd-client"))
    workloads = ("none",)

    def __init__(self) -> None:
        self.ttl = MIN_TTL_S
        self.tick_ms = 100
        self.renew_ticks = 6
        self.binary = "etcd"

    @property
    def election_timeout(self) -> float:
        """A leader is replaced about one lease TTL after it stops renewing."""
        return float(self.ttl)

    @property
    def election_deadline(self) -> float:
        """The TTL, etcd's lease expiry sweep (0.5 s) and a campaign, with room to spare."""
        return 2.0 * self.ttl + 2.0

    def configure(self, options: Mapping[str, str]) -> None:
        """Check the options and that etcd is installed (``SetupError`` naming the package)."""
        binary = "etcd"
        for key, text in options.items():
            if key == "binary":
                binary = text
            elif key in ("ttl", "tick-ms", "renew-ticks"):
                setattr(self, key.replace("-", "_"), positive_int(key, text))
            else:
                raise ConfigError(unknown_message("etcd-election option", key, list(OPTIONS)))
        if self.ttl < MIN_TTL_S:
            raise ConfigError(f"option ttl must be at least {MIN_TTL_S} s (etcd's minimum)")
        self.binary = find_binary(binary)

    def launch(self, node: NodeInfo, peers: Peers) -> Launch:
        """The client (status on its ``api`` port) with its etcd member (peers on the
        ``peer`` port, advertised at the proxy in front of it; its client on
        ``etcd-client``)."""
        argv = [sys.executable, "-m", "chaoskit.targets.etcd_election", "--id", node.id]
        argv += ["--listen", f"{node.host}:{node.port}", "--data-dir", str(node.data_dir)]
        argv += ["--etcd-client", f"{node.host}:{node.ports['etcd-client']}"]
        argv += ["--etcd-peer", f"{node.host}:{node.ports['peer']}"]
        for name, addrs in sorted(peers.items()):
            host, port = addrs["peer"]
            argv += ["--member", f"{name}={host}:{port}"]
        argv += ["--token", f"chaoskit-{node.data_dir.parent.parent.name}"]
        argv += ["--etcd-binary", self.binary, "--ttl", str(self.ttl)]
        argv += ["--tick-ms", str(self.tick_ms), "--renew-ticks", str(self.renew_ticks)]
        return python_launch(argv)
