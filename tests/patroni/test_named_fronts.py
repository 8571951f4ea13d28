"""Destination mode with several named peer ports (what the patroni target needs: etcd
peers, Patroni REST and PostgreSQL all in front of each node): one proxy per node per
port, the same map for every node, and a cut a->dst that blocks a on every port."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaoskit.core.target import NodeInfo
from chaoskit.network.sources import SourceResolver
from chaoskit.network.toxiproxy import ProxyNetwork
from chaoskit.proxy import ProxyClient, ProxyServer

pytestmark = pytest.mark.integration
KINDS = ("etcd", "rest", "postgres")


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def _ping(addr: tuple[str, int]) -> str:
    """A fresh connection from this (test) process and one echoed line."""
    try:
        with socket.create_connection(addr, timeout=1.0) as conn:
            conn.sendall(b"ping\n")
            return "ok" if conn.recv(16) == b"ping\n" else "closed"
    except TimeoutError:
        return "timeout"
    except OSError:
        return "error"


@pytest.fixture
async def network() -> AsyncIterator[tuple[ProxyNetwork, dict[str, dict[str, int]], dict]]:
    echoes = [await asyncio.start_server(_echo, "127.0.0.1", 0) for _ in KINDS]
    real = {k: e.sockets[0].getsockname()[1] for k, e in zip(KINDS, echoes, strict=True)}
    server = ProxyServer(port=0, seed=1)
    await server.start()
    client = ProxyClient(server.url)
    ports = {"a": {k: 1 for k in KINDS}, "dst": dict(real)}
    nodes = [NodeInfo(n, i, "127.0.0.1", ports[n], Path("/nonexistent"))
             for i, n in enumerate(("a", "dst"))]  # fmt: skip
    try:
        net = ProxyNetwork(client, "t", mode="destination", sources=server)
        peers = await net.setup(nodes, KINDS)
        # Connections from this test process count as node "a".
        server.classify_sources(SourceResolver(lambda: {"a": os.getpid()}).classify)
        yield net, ports, peers
        await net.close()
    finally:
        await client.aclose()
        await server.close()
        for echo in echoes:
            echo.close()


async def test_every_port_has_a_front_and_a_cut_blocks_them_all(
    network: tuple[ProxyNetwork, dict[str, dict[str, int]], dict],
) -> None:
    net, _ports, peers = network
    fronts = peers["a"]["dst"]
    assert set(fronts) == set(KINDS)
    assert peers["dst"]["dst"] == fronts  # what dst advertises: the proxies in front of it
    assert set(peers["dst"]["a"]) == set(KINDS)  # a's fronts, as dst dials them
    assert [await asyncio.to_thread(_ping, fronts[k]) for k in KINDS] == ["ok"] * 3
    await net.cut([("a", "dst")])
    cut = [await asyncio.to_thread(_ping, fronts[k]) for k in KINDS]
    assert all(r in ("error", "closed") for r in cut), cut
    await net.cut([("a", "dst")], mode="hang")
    assert [await asyncio.to_thread(_ping, fronts[k]) for k in KINDS] == ["timeout"] * 3
    await net.heal()
    assert [await asyncio.to_thread(_ping, fronts[k]) for k in KINDS] == ["ok"] * 3
    assert net.faulty_links() == []
