"""Which node opened a TCP connection: read from the kernel, for destination-mode proxies.

Systems such as etcd identify a peer by the address they dial, and every member
dials the same advertised address of a member, so chaoskit can put only one proxy in
front of each node (docs/proxy.md, "Destination mode"). To cut the link a -> b, the
proxy in front of b must tell the connections opened by a from the others. On one
host the kernel knows: the accepted socket's peer port is the local port of the dialing
socket, the kernel's socket table maps that socket to an inode, and the process
holding the inode has ``socket:[inode]`` among its ``/proc/PID/fd`` links. Matching
that process against the nodes' process ids (or their descendants: a wrapper's
child) names the source.

The inode is looked up with one ``sock_diag`` netlink request for the exact
four-tuple (about 0.2 ms, no privileges needed). ``/proc/net/tcp`` says the same but
the kernel renders the whole table on each read: 0.2 s with a few thousand sockets
open, too slow for a proxy that names every connection it accepts. It remains the
fallback where netlink is unavailable.

Example::

    resolver = SourceResolver(lambda: {"n1": 4242, "n2": 4243})
    resolver.classify(("127.0.0.1", 51334), ("127.0.0.1", 40001))  # -> "n2" or None
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

#: The TCP tables of the kernel (IPv4, and IPv6 which holds IPv4-mapped sockets too).
TCP_TABLES = ("net/tcp", "net/tcp6")
_LISTEN = "0A"
#: linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h
_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NO_COOKIE = 0xFFFFFFFF
_ALL_STATES = 0xFFFFFFFF
_NLMSG_HEADER = struct.Struct("=IHHII")
_INODE_OFFSET = _NLMSG_HEADER.size + 4 + 48 + 16  # family..retrans, sockid, 4 counters

Address = tuple[str, int]


@dataclass(frozen=True)
class TcpEntry:
    """One row of ``/proc/net/tcp``: the ports of both ends, the state and the inode."""

    local_port: int
    remote_port: int
    state: str
    inode: int


def parse_tcp_table(text: str) -> list[TcpEntry]:
    """The rows of a ``/proc/net/tcp`` or ``tcp6`` table; malformed rows are skipped.

    Ports are compared alone (not addresses): on loopback a pair of ports names a
    connection, and it spares decoding the kernel's byte-swapped hex addresses.
    """
    entries: list[TcpEntry] = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        try:
            local = int(fields[1].rsplit(":", 1)[1], 16)
            remote = int(fields[2].rsplit(":", 1)[1], 16)
            inode = int(fields[9])
        except (IndexError, ValueError):
            continue
        entries.append(TcpEntry(local, remote, fields[3], inode))
    return entries


def socket_inodes(entries: Iterable[TcpEntry], local_port: int, remote_port: int) -> set[int]:
    """Inodes of the connected sockets with these local and remote ports."""
    return {
        e.inode
        for e in entries
        if e.local_port == local_port
        and e.remote_port == remote_port
        and e.state != _LISTEN
        and e.inode != 0
    }


def _packed_address(host: str) -> tuple[int, bytes]:
    """The address family and the 16-byte field ``inet_diag_sockid`` wants."""
    try:
        return socket.AF_INET, socket.inet_pton(socket.AF_INET, host) + bytes(12)
    except OSError:
        return socket.AF_INET6, socket.inet_pton(socket.AF_INET6, host)


def diag_request(src: Address, dst: Address, seq: int = 1) -> bytes:
    """A ``SOCK_DIAG_BY_FAMILY`` request for the one TCP socket ``src`` -> ``dst``."""
    family, src_raw = _packed_address(src[0])
    _, dst_raw = _packed_address(dst[0])
    sockid = struct.pack("!HH16s16s", src[1], dst[1], src_raw, dst_raw)
    sockid += struct.pack("=III", 0, _NO_COOKIE, _NO_COOKIE)
    body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 0, 0, _ALL_STATES) + sockid
    header = _NLMSG_HEADER.pack(_NLMSG_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY,
                                _NLM_F_REQUEST, seq, 0)  # fmt: skip
    return header + body


def parse_diag_reply(data: bytes) -> int | None:
    """The inode in an ``inet_diag_msg`` reply; None for an error (no such socket)."""
    if len(data) < _NLMSG_HEADER.size:
        return None
    kind = _NLMSG_HEADER.unpack_from(data)[1]
    if kind == _NLMSG_ERROR or len(data) < _INODE_OFFSET + 4:
        return None
    inode: int = struct.unpack_from("=I", data, _INODE_OFFSET)[0]
    return inode or None


def diag_inode(src: Address, dst: Address) -> int | None:
    """The inode of the TCP socket ``src`` -> ``dst`` (from its own side), via netlink.

    ``OSError`` when netlink itself is unavailable; None when there is no such socket.
    """
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, _NETLINK_SOCK_DIAG) as nl:
        nl.settimeout(1.0)
        nl.sendto(diag_request(src, dst), (0, 0))
        return parse_diag_reply(nl.recv(65536))


class SourceResolver:
    """Names the node whose process opened a connection; ``None`` when none did.

    ``pids`` is called on every lookup, so a node restarted with a new process id is
    recognized at once. ``proc`` is the procfs root (a fake tree in unit tests).
    """

    def __init__(
        self, pids: Callable[[], Mapping[str, int | None]], proc: Path = Path("/proc")
    ) -> None:
        self.pids = pids
        self.proc = proc
        self.netlink = proc == Path("/proc")
        #: Descendants of nodes found by the slow path (pid -> node), tried first next time.
        self._descendants: dict[int, str] = {}

    def classify(self, peer: Address, local: Address) -> str | None:
        """The node that holds the far end of the connection accepted from ``peer`` on
        ``local`` (``peer`` is the dialing socket's address, ``local`` the proxy's)."""
        inodes = self._inodes(peer, local)
        if not inodes:
            return None
        nodes = {pid: node for node, pid in self.pids().items() if pid is not None}
        for pid, node in nodes.items():
            if self._holds(pid, inodes):
                return node
        for pid, node in list(self._descendants.items()):
            if node in nodes.values() and self._holds(pid, inodes):
                return node
        return self._in_descendants(nodes, inodes)

    def _inodes(self, peer: Address, local: Address) -> set[int]:
        if self.netlink:
            try:
                inode = diag_inode(peer, local)
                return {inode} if inode is not None else set()
            except OSError:
                self.netlink = False  # no netlink here: read the tables from now on
        return socket_inodes(self._tcp_entries(), peer[1], local[1])

    def _tcp_entries(self) -> list[TcpEntry]:
        entries: list[TcpEntry] = []
        for table in TCP_TABLES:
            with contextlib.suppress(OSError):
                entries += parse_tcp_table((self.proc / table).read_text())
        return entries

    def _holds(self, pid: int, inodes: set[int]) -> bool:
        """Whether process ``pid`` has one of the socket ``inodes`` open."""
        wanted = {f"socket:[{inode}]" for inode in inodes}
        fd_dir = self.proc / str(pid) / "fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            return False
        for fd in fds:
            try:
                if os.readlink(fd_dir / fd) in wanted:
                    return True
            except OSError:  # the descriptor closed while we looked
                continue
        return False

    def _in_descendants(self, nodes: Mapping[int, str], inodes: set[int]) -> str | None:
        """Slow path: a descendant of a node (a wrapper's child, a helper process)."""
        try:
            entries = [int(e) for e in os.listdir(self.proc) if e.isdigit()]
        except OSError:
            return None
        parents = {pid: _parent(self.proc / str(pid) / "stat") for pid in entries}
        for pid in entries:
            node = _ancestor_node(pid, parents, nodes)
            if node is not None and pid not in nodes:
                self._descendants[pid] = node
                if self._holds(pid, inodes):
                    return node
        return None


def _ancestor_node(
    pid: int, parents: Mapping[int, int | None], nodes: Mapping[int, str]
) -> str | None:
    seen: set[int] = set()
    current: int | None = parents.get(pid)
    while current is not None and current > 1 and current not in seen:
        if current in nodes:
            return nodes[current]
        seen.add(current)
        current = parents.get(current)
    return None


def _parent(stat: Path) -> int | None:
    """The parent process id from ``/proc/PID/stat`` (field 4, after the ``(comm)``)."""
    try:
        text = stat.read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None
