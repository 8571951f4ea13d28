"""tcpkv: a small leader-elected key-value service with its own TCP line protocol.

It exists to show chaoskit on a service that does not speak HTTP (docs/your-service.md
walks through it), and it is deliberately naive, so that chaoskit has something to find:

- Election: every node sends ``HB <id>`` to every peer each ``HEARTBEAT_S`` over the
  peer port; a node counts a peer alive while it heard from it within ``LEASE_S``,
  and the leader is the lowest live id (itself included). No terms, no votes, no
  quorum: a partition gives each side its own leader (split brain).
- Data: only the leader answers client operations; it applies them at once and
  sends them to its peers without waiting (``SET``/``ADD`` lines), so an acknowledged
  write can be missing on the next leader (lost writes, stale reads).

Client protocol, one request line and one answer line (values are compact JSON):

    GET key            -> OK <value|null>          | NOTLEADER <leader id|->
    PUT key <value>    -> OK
    CAS key [from,to]  -> OK | MISMATCH <current>
    ADD key <value>    -> OK                         (adds to a set)
    READSET key        -> OK [values...]
    STATUS             -> OK {"id", "role": "leader"|"follower", "leader"}  (any node)

Run: ``python tcpkv_server.py --id n1 --client 127.0.0.1:7001 --peer 127.0.0.1:7101
--peers n2=127.0.0.1:7102,n3=127.0.0.1:7103``. Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
from typing import Any

HEARTBEAT_S = 0.1
#: A peer not heard from for this long is taken for dead.
LEASE_S = 0.5
RECONNECT_S = 0.2


def natural(node_id: str) -> tuple[int, str]:
    """Sort key: n2 before n10."""
    return (len(node_id), node_id)


class Node:
    """One tcpkv node: its data, what it heard from its peers, its peer links."""

    def __init__(self, node_id: str, peers: dict[str, tuple[str, int]]) -> None:
        self.id = node_id
        self.peers = peers
        self.heard: dict[str, float] = {}
        self.data: dict[str, Any] = {}
        self.sets: dict[str, list[Any]] = {}
        self.links: dict[str, asyncio.StreamWriter] = {}

    def leader(self) -> str:
        now = time.monotonic()
        alive = [p for p, t in self.heard.items() if now - t < LEASE_S] + [self.id]
        return min(alive, key=natural)

    # -- peers -----------------------------------------------------------------

    async def dial(self, peer: str) -> None:
        """Keep a connection to ``peer`` and send it heartbeats; reconnect when it breaks."""
        host, port = self.peers[peer]
        while True:
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(RECONNECT_S)
                continue
            self.links[peer] = writer
            try:
                while True:
                    writer.write(f"HB {self.id}\n".encode())
                    await writer.drain()
                    await asyncio.sleep(HEARTBEAT_S)
            except OSError:
                pass
            finally:
                self.links.pop(peer, None)
                writer.close()
            await asyncio.sleep(RECONNECT_S)

    def replicate(self, line: str) -> None:
        """Send a change to every connected peer, without waiting for anything."""
        for writer in list(self.links.values()):
            with contextlib.suppress(Exception):
                writer.write(line.encode() + b"\n")

    async def serve_peer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Heartbeats and changes from one peer."""
        try:
            while line := (await reader.readline()).decode().strip():
                kind, _, rest = line.partition(" ")
                if kind == "HB":
                    self.heard[rest] = time.monotonic()
                elif kind == "SET":
                    key, _, value = rest.partition(" ")
                    self.data[key] = json.loads(value)
                elif kind == "ADD":
                    key, _, value = rest.partition(" ")
                    self.sets.setdefault(key, []).append(json.loads(value))
        except (OSError, ValueError):
            pass
        finally:
            writer.close()

    # -- clients ---------------------------------------------------------------

    def answer(self, line: str) -> str:
        """The answer to one client request line."""
        cmd, _, rest = line.partition(" ")
        if cmd == "STATUS":
            leader = self.leader()
            role = "leader" if leader == self.id else "follower"
            return "OK " + json.dumps({"id": self.id, "role": role, "leader": leader})
        if self.leader() != self.id:
            return f"NOTLEADER {self.leader()}"
        key, _, arg = rest.partition(" ")
        if cmd == "GET":
            return "OK " + json.dumps(self.data.get(key), separators=(",", ":"))
        if cmd == "READSET":
            return "OK " + json.dumps(self.sets.get(key, []), separators=(",", ":"))
        value = json.loads(arg)
        if cmd == "PUT":
            self.data[key] = value
        elif cmd == "CAS":
            if self.data.get(key) != value[0]:
                return "MISMATCH " + json.dumps(self.data.get(key))
            self.data[key] = value = value[1]
        elif cmd == "ADD":
            self.sets.setdefault(key, []).append(value)
            self.replicate(f"ADD {key} {json.dumps(value, separators=(',', ':'))}")
            return "OK"
        else:
            return f"ERR unknown command {cmd}"
        self.replicate(f"SET {key} {json.dumps(value, separators=(',', ':'))}")
        return "OK"

    async def serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while line := (await reader.readline()).decode().strip():
                try:
                    reply = self.answer(line)
                except (ValueError, TypeError, IndexError) as exc:
                    reply = f"ERR {type(exc).__name__}"
                writer.write(reply.encode() + b"\n")
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main() -> None:
    parser = argparse.ArgumentParser(description="tcpkv node")
    parser.add_argument("--id", required=True)
    parser.add_argument("--client", required=True, type=address, help="host:port for clients")
    parser.add_argument("--peer", required=True, type=address, help="host:port for peers")
    parser.add_argument("--peers", default="", help="id=host:port,... (every other node)")
    args = parser.parse_args()
    peers = {
        pid: address(addr)
        for pid, _, addr in (item.partition("=") for item in args.peers.split(",") if item)
    }
    node = Node(args.id, peers)
    await asyncio.start_server(node.serve_peer, *args.peer)
    await asyncio.start_server(node.serve_client, *args.client)
    await asyncio.gather(*(node.dial(peer) for peer in peers))
    await asyncio.Event().wait()  # no peers: serve forever


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())
