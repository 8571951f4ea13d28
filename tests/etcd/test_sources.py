"""Telling sources apart, and destination-mode cuts that block only the named source."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaoskit.core.target import NodeInfo
from chaoskit.errors import ConfigError
from chaoskit.network.sources import (
    SourceResolver,
    diag_inode,
    diag_request,
    parse_diag_reply,
    parse_tcp_table,
    socket_inodes,
)
from chaoskit.network.toxiproxy import ProxyNetwork
from chaoskit.proxy import ProxyClient, ProxyServer

TABLE = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  0 0 111 1
   1: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  0 0 222 1
   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  0 0 333 1
   3: garbage
"""


def test_tcp_table_rows_and_the_dialing_socket() -> None:
    entries = parse_tcp_table(TABLE)
    assert [e.inode for e in entries] == [111, 222, 333]
    # the dialing end of 0xC350 -> 0x1F90, not the accepted end nor the listener
    assert socket_inodes(entries, 0xC350, 0x1F90) == {222}
    assert socket_inodes(entries, 0x1F90, 0) == set()


def test_diag_request_and_reply_layout() -> None:
    req = diag_request(("127.0.0.1", 50000), ("127.0.0.1", 8080))
    length, kind, flags = struct.unpack_from("=IHH", req)
    assert length == len(req) == 16 + 8 + 48 and kind == 20 and flags == 1
    assert struct.unpack_from("!HH", req, 24) == (50000, 8080)
    reply = struct.pack("=IHHII", 92, 20, 0, 1, 0) + bytes(4 + 48 + 16) + struct.pack("=I", 4242)
    assert parse_diag_reply(reply) == 4242
    assert parse_diag_reply(struct.pack("=IHHIIi", 36, 2, 0, 1, 0, -2)) is None


def test_netlink_finds_the_inode_of_a_real_connection() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()) as client:
            accepted, peer = server.accept()
            with accepted:
                inode = diag_inode(peer, server.getsockname())
                assert inode == os.fstat(client.fileno()).st_ino


def test_resolver_names_the_node_holding_the_socket_in_a_fake_proc(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(TABLE)
    for pid, inode in ((10, 999), (20, 222)):
        (tmp_path / str(pid) / "fd").mkdir(parents=True)
        os.symlink(f"socket:[{inode}]", tmp_path / str(pid) / "fd" / "3")
    resolver = SourceResolver(lambda: {"n1": 10, "n2": 20, "n3": None}, proc=tmp_path)
    assert resolver.classify(("127.0.0.1", 0xC350), ("127.0.0.1", 0x1F90)) == "n2"
    assert resolver.classify(("127.0.0.1", 1), ("127.0.0.1", 2)) is None


# -- a destination-mode network over the embedded proxy, with two real client processes --

CLIENT = """
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
conn = None
for line in sys.stdin:
    try:
        if line.strip() == "connect":
            if conn is not None:
                conn.close()
            conn = socket.create_connection((host, port), timeout=1.0)
            print("connected")
        else:
            conn.sendall(b"ping\\n")
            print("ok" if conn.recv(16) == b"ping\\n" else "closed")
    except socket.timeout:
        print("timeout")
    except OSError:
        print("error")
    sys.stdout.flush()
"""


class Client:
    """A separate process that dials the proxy: what a source node looks like."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def do(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), 10)
        return line.decode().strip()

    async def ping_fresh(self) -> str:
        """A new connection, then a ping on it."""
        await self.do("connect")
        return await self.do("ping")


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[ProxyNetwork, Client, Client]]:
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    port = echo.sockets[0].getsockname()[1]
    server = ProxyServer(port=0, seed=1)
    await server.start()
    client = ProxyClient(server.url)
    procs: list[asyncio.subprocess.Process] = []
    try:
        nodes = [NodeInfo(n, i, "127.0.0.1", {"api": port}, Path("/nonexistent"))
                 for i, n in enumerate(("a", "b", "dst"))]  # fmt: skip
        network = ProxyNetwork(client, "t", mode="destination", sources=server)
        peers = await network.setup(nodes)
        host, front = peers["a"]["dst"]["api"]
        assert peers["b"]["dst"]["api"] == (host, front) and "a" in peers["a"]
        for _ in range(2):
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-c", CLIENT, host, str(front),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            ))  # fmt: skip
        pids = {"a": procs[0].pid, "b": procs[1].pid}
        server.classify_sources(SourceResolver(lambda: pids).classify)
        yield network, Client(procs[0]), Client(procs[1])
        await network.close()
    finally:
        for proc in procs:
            proc.kill()
            await proc.wait()
        await client.aclose()
        await server.close()
        echo.close()
        await echo.wait_closed()


@pytest.mark.integration
async def test_a_cut_blocks_only_the_named_source(
    cluster: tuple[ProxyNetwork, Client, Client],
) -> None:
    network, a, b = cluster
    assert await a.ping_fresh() == "ok" and await b.ping_fresh() == "ok"
    await network.cut([("a", "dst")])
    assert await a.do("ping") in ("error", "closed")  # the open connection was reset
    assert await a.ping_fresh() in ("error", "closed")  # and new ones are too
    assert await b.do("ping") == "ok"  # b's open connection is untouched
    assert await b.ping_fresh() == "ok"
    await network.heal()
    assert await a.ping_fresh() == "ok" and await b.ping_fresh() == "ok"


@pytest.mark.integration
async def test_a_hang_holds_only_the_named_source_silently(
    cluster: tuple[ProxyNetwork, Client, Client],
) -> None:
    network, a, b = cluster
    assert await a.ping_fresh() == "ok"
    await network.cut([("a", "dst")], mode="hang")
    assert await a.do("ping") == "timeout"  # connected, nothing relayed
    assert await a.ping_fresh() == "timeout"
    assert await b.ping_fresh() == "ok"
    await network.heal([("a", "dst")])
    assert await a.ping_fresh() == "ok"
    assert network.faulty_links() == []


async def test_destination_cuts_need_the_embedded_proxy() -> None:
    server = ProxyServer(port=0)
    await server.start()
    try:
        async with ProxyClient(server.url) as client:
            network = ProxyNetwork(client, "t", mode="destination")  # as with a real Toxiproxy
            node = NodeInfo("a", 0, "127.0.0.1", {"api": 1}, Path("/nonexistent"))
            await network.setup([node, NodeInfo("b", 1, "127.0.0.1", {"api": 2}, Path("/x"))])
            assert network.links() == [("a", "b"), ("b", "a")]
            with pytest.raises(ConfigError, match="embedded proxy"):
                await network.cut([("a", "b")])
            with pytest.raises(ConfigError, match="proxy per pair"):
                await network.delay([("a", "b")], 10, 0)
            await network.close()
    finally:
        await server.close()
