"""The command line of one etcd 3.4 member (verified on 3.4.23).

Every member advertises, and is dialed at, the address of the proxy in front of it
(destination mode): etcd identifies peers by their advertised URL, so the proxy
address is the member's peer identity for the whole cluster.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from chaoskit.errors import SetupError

PACKAGE_HINT = "install the etcd-server package (apt-get install etcd-server etcd-client)"


@dataclass(frozen=True)
class Timing:
    """etcd's raft timing, in milliseconds, and whether pre-vote is on."""

    heartbeat_ms: int = 100
    election_ms: int = 1000
    pre_vote: bool = True


def find_binary(binary: str) -> str:
    """The path of ``binary``; a one-line ``SetupError`` naming the package when absent."""
    path = shutil.which(binary)
    if path is None:
        raise SetupError(f"etcd binary '{binary}' not found: {PACKAGE_HINT}")
    return path


def member_argv(
    binary: str,
    name: str,
    data_dir: Path,
    client: tuple[str, int],
    peer: tuple[str, int],
    advertised: Mapping[str, tuple[str, int]],
    *,
    token: str,
    timing: Timing,
) -> list[str]:
    """``etcd`` listening on ``client`` and ``peer``, advertising ``advertised[name]``.

    ``advertised`` maps every member (this one included) to the address its peers
    dial: the proxy in front of it.
    """
    url = _url
    cluster = ",".join(f"{m}={url(addr)}" for m, addr in sorted(advertised.items()))
    return [
        binary,
        "--name", name,
        "--data-dir", str(data_dir),
        "--listen-client-urls", url(client),
        "--advertise-client-urls", url(client),
        "--listen-peer-urls", url(peer),
        "--initial-advertise-peer-urls", url(advertised[name]),
        "--initial-cluster", cluster,
        "--initial-cluster-token", token,
        "--initial-cluster-state", "new",
        "--heartbeat-interval", str(timing.heartbeat_ms),
        "--election-timeout", str(timing.election_ms),
        f"--pre-vote={'true' if timing.pre_vote else 'false'}",
        "--enable-v2=false",
    ]  # fmt: skip


def _url(addr: tuple[str, int]) -> str:
    return f"http://{addr[0]}:{addr[1]}"
