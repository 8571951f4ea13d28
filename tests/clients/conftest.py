"""The example tcpkv service (examples/tcpkv) as a Python target, with its plug-in client.

Until spec files take ``[client]`` and named ports, this target plays what
``examples/tcpkv/tcpkv.toml`` describes: client port ``node.port``, peer port
``node.peer_port`` behind a proxy per ordered pair, status from the example's probe,
client operations through the example's client class, loaded as a spec would load it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from chaoskit.clients.plugin import load_client_class
from chaoskit.core.target import Launch, NodeInfo, Outcome, Status

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tcpkv"


class TcpKvTarget:
    """tcpkv nodes on loopback: lowest live id leads, no terms (strict policy)."""

    name = "tcpkv"
    description = "the example TCP key-value service (examples/tcpkv)"
    default_policy: ClassVar[Any] = "strict"
    proxy_mode: ClassVar[Any] = "pair"
    separate_peer_port = True
    election_timeout = 0.5
    election_deadline = 3.0
    workloads = ("none", "register", "kv", "set")

    def __init__(self) -> None:
        where = f"{EXAMPLE / 'tcpkv.toml'} [client]"
        self.client = load_client_class("tcpkv_client:TcpKvClient", folder=EXAMPLE, where=where)
        self._probe = importlib.import_module("tcpkv_probe").status

    def configure(self, options: Mapping[str, str]) -> None:
        pass

    def launch(self, node: NodeInfo, peers: Mapping[str, tuple[str, int]]) -> Launch:
        others = ",".join(f"{pid}={h}:{p}" for pid, (h, p) in sorted(peers.items()))
        argv = [sys.executable, str(EXAMPLE / "tcpkv_server.py"), "--id", node.id,
                "--client", f"{node.host}:{node.port}", "--peer", f"{node.host}:{node.peer_port}",
                "--peers", others]  # fmt: skip
        return Launch(argv=argv)

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        data = await self._probe(node.host, node.port, node.id)
        role = "leader" if data["role"] == "leader" else "follower"
        return Status(role, None, data.get("leader"))

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        raise AssertionError("every op goes through the plug-in client")


@pytest.fixture
def tcpkv_target() -> TcpKvTarget:
    return TcpKvTarget()
