"""The state of a mount: the volatile tree over the backing directory, and its log.

``Tree`` holds the inodes a mount shows (``Node``), built lazily from the durable
backing directory, their backing descriptors, the kernel's references to them, and the
ordered log of pending metadata operations that ``persist`` applies as a prefix. The
operations that change it (create, rename, write, fsync, ...) are ``Volume``'s
(chaoskit/disk/volume.py), which also says what is modelled.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from chaoskit.disk.pages import FileData

ROOT_INODE = 1
OPEN_FLAGS = os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


@dataclass(eq=False, slots=True)
class Node:
    """One inode of the volatile tree."""

    ino: int
    mode: int
    uid: int
    gid: int
    nlink: int
    atime_ns: int
    mtime_ns: int
    ctime_ns: int
    rdev: int = 0
    parent: Node | None = None  # directories: the parent in the volatile tree
    children: dict[bytes, Node] | None = None  # directories: None until listed
    dir_fd: int | None = None  # durable directories: an O_DIRECTORY descriptor
    fd: int | None = None  # durable regular files: opened on first data access
    link: tuple[Node, bytes] | None = None  # one name of it in the backing directory
    data: FileData | None = None  # regular files
    target: bytes = b""  # symbolic links
    last_seq: int = 0  # the last logged operation that touched this node
    lookups: int = 0  # the kernel's lookup count
    handles: int = 0  # open file handles
    dead: bool = False  # removed from the tree and forgotten

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.mode)

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def size(self) -> int:
        if self.data is not None:
            return self.data.size
        return len(self.target)


@dataclass(slots=True)
class _Op:
    seq: int
    apply: Callable[[], list[Node]]  # returns the directories it changed in the backing
    what: str
    touched: tuple[Node, ...]


@dataclass
class Pending:
    """What a power loss would throw away."""

    files: int = 0
    bytes: int = 0
    ops: int = 0

    def to_json(self) -> dict[str, int]:
        return {"pending_files": self.files, "pending_bytes": self.bytes, "pending_ops": self.ops}


def now_ns() -> int:
    return time.time_ns()


class Tree:
    """The tree a mount shows, built lazily from the backing directory ``root_fd``."""

    def __init__(self, root_fd: int, *, first_ino: int = ROOT_INODE + 1) -> None:
        self._root_fd = root_fd
        self._next_ino = first_ino
        self._seq = 0
        self._log: deque[_Op] = deque()
        self.nodes: dict[int, Node] = {}
        self._by_backing: dict[tuple[int, int], Node] = {}
        st = os.fstat(root_fd)
        self.root = self._node_from_stat(st, ino=ROOT_INODE)
        self.root.dir_fd = os.dup(root_fd)
        self.root.parent = self.root

    @property
    def next_ino(self) -> int:
        """The first inode number a successor volume may use (numbers are never reused)."""
        return self._next_ino

    def get(self, ino: int) -> Node:
        node = self.nodes.get(ino)
        if node is None or node.dead:
            raise OSError(errno.ESTALE, "stale inode")
        return node

    def lookup(self, parent: Node, name: bytes) -> Node:
        if name == b".":
            return parent
        if name == b"..":
            return parent.parent or parent
        node = self.entries(parent).get(name)
        if node is None:
            raise OSError(errno.ENOENT, "no such entry")
        return node

    def entries(self, directory: Node) -> dict[bytes, Node]:
        """The directory's entries, listed from the backing directory the first time."""
        if not directory.is_dir:
            raise OSError(errno.ENOTDIR, "not a directory")
        if directory.children is None:
            directory.children = self._load(directory)
        return directory.children

    def remember(self, node: Node) -> Node:
        """The kernel now holds one more reference (lookup count) to ``node``."""
        node.lookups += 1
        return node

    def forget(self, ino: int, count: int) -> None:
        node = self.nodes.get(ino)
        if node is None or node is self.root:
            return
        node.lookups = max(0, node.lookups - count)
        self._release_if_unused(node)

    def opened(self, node: Node) -> None:
        node.handles += 1
        if node.is_file:
            self._file_fd(node)

    def released(self, node: Node) -> None:
        node.handles = max(0, node.handles - 1)
        self._release_if_unused(node)

    def persist(self, upto: int) -> int:
        """Apply the logged operations numbered ``<= upto`` to the backing directory."""
        changed: dict[int, Node] = {}
        done: list[_Op] = []
        while self._log and self._log[0].seq <= upto:
            op = self._log.popleft()
            for directory in op.apply():
                changed[id(directory)] = directory
            done.append(op)
        for directory in changed.values():
            if directory.dir_fd is not None:
                os.fsync(directory.dir_fd)
        for op in done:  # nodes kept only for these operations can go now
            for node in op.touched:
                self._release_if_unused(node)
        return len(done)

    def pending(self) -> Pending:
        result = Pending(ops=len(self._log))
        for node in self.nodes.values():
            if node.data is not None and node.data.dirty:
                result.files += 1
                result.bytes += node.data.pending_bytes
        return result

    def dirty_paths(self, limit: int = 100) -> list[str]:
        """Paths of files with unsynced data (at most ``limit``), e.g. to pick one to tear."""
        found: list[str] = []
        stack: list[tuple[Node, str]] = [(self.root, "")]
        while stack and len(found) < limit:
            directory, prefix = stack.pop()
            for name, child in sorted((directory.children or {}).items()):
                path = prefix + os.fsdecode(name)
                if child.is_dir:
                    stack.append((child, path + "/"))
                elif child.data is not None and child.data.dirty and len(found) < limit:
                    found.append(path)
        return sorted(found)

    def resolve(self, path: str) -> Node:
        """The node at ``path`` (relative to the mount's root) in the volatile tree."""
        node = self.root
        for part in path.strip("/").split("/"):
            if part:
                node = self.lookup(node, os.fsencode(part))
        return node

    def close(self) -> None:
        """Close every backing descriptor: this volume is done (unmount or power loss)."""
        for node in [self.root, *self.nodes.values()]:
            for fd in (node.fd, node.dir_fd):
                if fd is not None:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            node.fd = node.dir_fd = None
            node.dead = True
        self.nodes.clear()
        self._log.clear()

    def all_nodes(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def _log_op(self, what: str, apply: Callable[[], list[Node]], *touched: Node) -> None:
        self._seq += 1
        self._log.append(_Op(self._seq, apply, what, touched))
        for node in touched:
            node.last_seq = self._seq

    def _new_node(self, mode: int, uid: int, gid: int, *, nlink: int, rdev: int = 0) -> Node:
        now = now_ns()
        node = Node(self._next_ino, mode, uid, gid, nlink, now, now, now, rdev=rdev)
        self._next_ino += 1
        self.nodes[node.ino] = node
        return node

    def _node_from_stat(self, st: os.stat_result, *, ino: int | None = None) -> Node:
        if ino is None:
            ino = self._next_ino
            self._next_ino += 1
        node = Node(
            ino, st.st_mode, st.st_uid, st.st_gid, st.st_nlink,
            st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns, rdev=st.st_rdev,
        )  # fmt: skip
        if node.is_file:
            node.data = FileData(st.st_size)
        self.nodes[ino] = node
        self._index_backing(node, st)
        return node

    def _index_backing(self, node: Node, st: os.stat_result) -> None:
        self._by_backing[(st.st_dev, st.st_ino)] = node

    def _load(self, directory: Node) -> dict[bytes, Node]:
        """List a durable directory of the backing tree (one without pending entries)."""
        dfd = self._dir_fd(directory)
        entries: dict[bytes, Node] = {}
        for text in sorted(os.listdir(dfd)):
            name = os.fsencode(text)
            st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            node = self._by_backing.get((st.st_dev, st.st_ino))
            if node is None or node.dead:
                node = self._node_from_stat(st)
                if node.is_dir:
                    node.dir_fd = os.open(name, DIR_FLAGS, dir_fd=dfd)
                    node.parent = directory
                elif stat.S_ISLNK(st.st_mode):
                    node.target = os.fsencode(os.readlink(name, dir_fd=dfd))
                node.link = (directory, name)
            entries[name] = node
        return entries

    def _dir_fd(self, directory: Node) -> int:
        if directory.dir_fd is None:
            raise OSError(errno.EIO, "directory has no durable copy")
        return directory.dir_fd

    def _file_fd(self, node: Node) -> int | None:
        """The backing descriptor of a regular file, opened through its durable name."""
        if node.fd is None and node.link is not None and node.is_file:
            parent, name = node.link
            if parent.dir_fd is not None:
                node.fd = os.open(name, OPEN_FLAGS, dir_fd=parent.dir_fd)
        return node.fd

    def _check_free(self, parent: Node, name: bytes) -> None:
        if name in self.entries(parent):
            raise OSError(errno.EEXIST, "entry exists")

    def _attach(self, parent: Node, name: bytes, node: Node) -> None:
        self.entries(parent)[name] = node
        parent.mtime_ns = parent.ctime_ns = now_ns()

    def _detach(self, parent: Node, name: bytes) -> None:
        del self.entries(parent)[name]
        parent.mtime_ns = parent.ctime_ns = now_ns()

    def _release_if_unused(self, node: Node) -> None:
        """Close the backing descriptor of a file nobody holds; forget unlinked nodes."""
        if node.lookups or node.handles or node is self.root:
            return
        linked = node.nlink > 0
        if node.fd is not None and not (node.data is not None and node.data.dirty):
            os.close(node.fd)
            node.fd = None
        if not linked and not self._pending_for(node):
            for fd in (node.fd, node.dir_fd):
                if fd is not None:
                    os.close(fd)
            node.fd = node.dir_fd = None
            self.nodes.pop(node.ino, None)

    def _pending_for(self, node: Node) -> bool:
        """Does a logged operation still refer to ``node`` (it must stay reachable)?"""
        return bool(self._log) and node.last_seq >= self._log[0].seq
