"""The volatile file tree over the durable backing directory, and its metadata log.

What a process sees through the mount is this tree; what survives a power loss is the
backing directory. The two differ by

- the page caches of regular files (chaoskit/disk/pages.py), written to their backing
  files by an fsync or fdatasync of that file;
- an ordered log of pending metadata operations (create, mknod, mkdir, symlink, link,
  unlink, rmdir, rename, chmod/chown/utimens), each applied to the backing directory
  with the matching ``*at`` system call when it becomes durable.

The log is only ever applied as a *prefix*, in order: an fsync of a directory makes
durable every pending operation up to the last one that touched that directory, an
fsync of a file every one up to the last that touched the file (its creation, its
renames). So the backing directory is always a state the tree passed through, as with
ext4's ordered journal, and never one it did not; but an operation that nothing synced
is lost, which is stricter than ext4 (whose next journal commit, or an fsync of any
file, would persist it). Size changes (truncate) belong to the file's data, not to the
log: an fsync or fdatasync of the file persists them.

Every ``Volume`` method is synchronous and leaves the tree consistent before it
returns, so the file system can run them one at a time without locks. Errors are
``OSError`` with the errno the caller should see. A power loss discards the whole
``Volume`` (its caches and log) and a new one is built on the same backing directory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable

from chaoskit.disk.pages import FileData
from chaoskit.disk.tree import DIR_FLAGS, Node, Pending, Tree, now_ns

__all__ = ["Node", "Pending", "Volume"]

RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
CREATE_FLAGS = os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_CLOEXEC


class Volume(Tree):
    """The POSIX operations on a mount's tree: namespace changes (logged) and file data
    (cached until synced)."""

    def create(
        self, parent: Node, name: bytes, mode: int, uid: int, gid: int, rdev: int = 0
    ) -> Node:
        """A new file (regular or special) ``name`` in ``parent``."""
        self._check_free(parent, name)
        node = self._new_node(mode, uid, gid, nlink=1, rdev=rdev)
        if node.is_file:
            node.data = FileData(0)
        self._attach(parent, name, node)

        owner = (node.mode, node.uid, node.gid)  # as created: a later chmod is its own op

        def apply() -> list[Node]:
            pfd = self._dir_fd(parent)
            if node.is_file:
                fd = os.open(name, CREATE_FLAGS, 0o600, dir_fd=pfd)
                node.fd = fd
                _set_owner(fd, *owner)
            else:
                os.mknod(name, node.mode, node.rdev, dir_fd=pfd)
                with contextlib.suppress(OSError):
                    os.chown(name, node.uid, node.gid, dir_fd=pfd, follow_symlinks=False)
            node.link = (parent, name)
            self._index_backing(node, os.stat(name, dir_fd=pfd, follow_symlinks=False))
            return [parent]

        self._log_op("create", apply, parent, node)
        return node

    def mkdir(self, parent: Node, name: bytes, mode: int, uid: int, gid: int) -> Node:
        self._check_free(parent, name)
        node = self._new_node(stat.S_IFDIR | (mode & 0o7777), uid, gid, nlink=2)
        node.children = {}
        node.parent = parent
        self._attach(parent, name, node)
        parent.nlink += 1
        owner = (node.mode, node.uid, node.gid)

        def apply() -> list[Node]:
            pfd = self._dir_fd(parent)
            os.mkdir(name, 0o700, dir_fd=pfd)
            node.dir_fd = os.open(name, DIR_FLAGS, dir_fd=pfd)
            _set_owner(node.dir_fd, *owner)
            node.link = (parent, name)
            self._index_backing(node, os.fstat(node.dir_fd))
            return [parent]

        self._log_op("mkdir", apply, parent, node)
        return node

    def symlink(self, parent: Node, name: bytes, target: bytes, uid: int, gid: int) -> Node:
        self._check_free(parent, name)
        node = self._new_node(stat.S_IFLNK | 0o777, uid, gid, nlink=1)
        node.target = target
        self._attach(parent, name, node)

        def apply() -> list[Node]:
            pfd = self._dir_fd(parent)
            os.symlink(target, name, dir_fd=pfd)
            with contextlib.suppress(OSError):
                os.chown(name, node.uid, node.gid, dir_fd=pfd, follow_symlinks=False)
            node.link = (parent, name)
            self._index_backing(node, os.stat(name, dir_fd=pfd, follow_symlinks=False))
            return [parent]

        self._log_op("symlink", apply, parent, node)
        return node

    def link(self, node: Node, parent: Node, name: bytes) -> Node:
        if node.is_dir:
            raise OSError(errno.EPERM, "hard link to a directory")
        self._check_free(parent, name)
        self._attach(parent, name, node)
        node.nlink += 1
        node.ctime_ns = now_ns()

        def apply() -> list[Node]:
            pfd = self._dir_fd(parent)
            if node.link is not None:
                src_parent, src_name = node.link
                os.link(src_name, name, src_dir_fd=self._dir_fd(src_parent), dst_dir_fd=pfd)
            elif node.fd is not None:
                os.link(f"/proc/self/fd/{node.fd}", name, dst_dir_fd=pfd, follow_symlinks=True)
            else:
                return []  # nothing of it is durable: there is nothing to link to
            node.link = (parent, name)
            return [parent]

        self._log_op("link", apply, parent, node)
        return node

    def unlink(self, parent: Node, name: bytes) -> None:
        node = self.lookup(parent, name)
        if node.is_dir:
            raise OSError(errno.EISDIR, "is a directory")
        self._detach(parent, name)
        node.nlink = max(0, node.nlink - 1)
        node.ctime_ns = now_ns()
        self._log_op("unlink", self._apply_remove(parent, name, node, os.unlink), parent, node)
        self._release_if_unused(node)

    def rmdir(self, parent: Node, name: bytes) -> None:
        node = self.lookup(parent, name)
        if not node.is_dir:
            raise OSError(errno.ENOTDIR, "not a directory")
        if self.entries(node):
            raise OSError(errno.ENOTEMPTY, "directory not empty")
        self._detach(parent, name)
        node.nlink = 0
        parent.nlink = max(2, parent.nlink - 1)
        self._log_op("rmdir", self._apply_remove(parent, name, node, os.rmdir), parent, node)
        self._release_if_unused(node)

    def rename(
        self, old_parent: Node, old: bytes, new_parent: Node, new: bytes, flags: int
    ) -> None:
        if flags & RENAME_EXCHANGE:
            raise OSError(errno.EINVAL, "RENAME_EXCHANGE is not supported")
        node = self.lookup(old_parent, old)
        replaced = self.entries(new_parent).get(new)
        if replaced is node:
            return
        if replaced is not None:
            if flags & RENAME_NOREPLACE:
                raise OSError(errno.EEXIST, "target exists")
            self._check_replaceable(node, replaced)
        self._detach(old_parent, old)
        if replaced is not None:
            self._detach(new_parent, new)
            replaced.nlink = 0 if replaced.is_dir else max(0, replaced.nlink - 1)
        self._attach(new_parent, new, node)
        if node.is_dir and old_parent is not new_parent:
            node.parent = new_parent
            old_parent.nlink = max(2, old_parent.nlink - 1)
            new_parent.nlink += 1 if replaced is None or not replaced.is_dir else 0
        node.ctime_ns = now_ns()

        def apply() -> list[Node]:
            os.rename(
                old, new, src_dir_fd=self._dir_fd(old_parent), dst_dir_fd=self._dir_fd(new_parent)
            )
            node.link = (new_parent, new)
            if replaced is not None and replaced.link == (new_parent, new):
                replaced.link = None
            return [old_parent, new_parent]

        touched = (old_parent, new_parent, node) + ((replaced,) if replaced else ())
        self._log_op("rename", apply, *touched)
        if replaced is not None:
            self._release_if_unused(replaced)

    def setattr(
        self,
        node: Node,
        *,
        mode: int | None = None,
        uid: int | None = None,
        gid: int | None = None,
        atime_ns: int | None = None,
        mtime_ns: int | None = None,
        size: int | None = None,
    ) -> None:
        """chmod, chown, utimens (logged metadata) and truncate (file data)."""
        now = now_ns()
        if size is not None:
            if node.data is None:
                raise OSError(errno.EISDIR if node.is_dir else errno.EINVAL, "not a regular file")
            node.data.truncate(size)
            node.mtime_ns = now
        if mode is not None:
            node.mode = stat.S_IFMT(node.mode) | (mode & 0o7777)
        if uid is not None:
            node.uid = uid
        if gid is not None:
            node.gid = gid
        if atime_ns is not None:
            node.atime_ns = atime_ns
        if mtime_ns is not None:
            node.mtime_ns = mtime_ns
        node.ctime_ns = now
        if mode is None and uid is None and gid is None and atime_ns is None and mtime_ns is None:
            return
        snapshot = (node.mode, node.uid, node.gid, node.atime_ns, node.mtime_ns)
        self._log_op("setattr", lambda: self._apply_attrs(node, *snapshot), node)

    def read(self, node: Node, offset: int, length: int) -> bytes:
        assert node.data is not None
        return node.data.read(self._file_fd(node), offset, length)

    def write(self, node: Node, offset: int, data: bytes) -> int:
        assert node.data is not None
        node.data.write(self._file_fd(node), offset, data)
        node.mtime_ns = node.ctime_ns = now_ns()
        return len(data)

    def fsync(self, node: Node, *, datasync: bool) -> None:
        """Persist the node's metadata prefix, then its data (files) or entries (dirs)."""
        self.persist(node.last_seq)
        if node.data is not None and node.data.dirty:
            fd = self._file_fd(node)
            if fd is not None:
                node.data.sync(fd, datasync=datasync)
        elif node.is_dir and node.dir_fd is not None:
            os.fsync(node.dir_fd)

    def sync_all(self) -> None:
        """Persist every pending operation and every file's data (``sync-all``)."""
        self.persist(self._seq)
        for node in list(self.nodes.values()):
            if node.data is not None and node.data.dirty:
                fd = self._file_fd(node)
                if fd is not None:
                    node.data.sync(fd, datasync=False)

    def tear(self, node: Node, fraction: float) -> dict[str, int]:
        """Sync ``node`` as if the power failed during its last write: keep a prefix of it.

        Earlier unsynced writes of the file reach the disk whole; the last one only its
        first ``keep`` bytes (``fraction`` of it, at least 1, at most all but 1).
        """
        data = node.data
        if data is None or data.last is None:
            raise OSError(errno.ENODATA, "no unsynced write to tear")
        length = data.last.length
        if length < 2:
            raise OSError(errno.ENODATA, "the last unsynced write is one byte: it cannot tear")
        keep = min(length - 1, max(1, int(length * fraction)))
        last = data.tear(self._file_fd(node), keep)
        self.fsync(node, datasync=False)
        return {"offset": last.offset, "length": last.length, "kept": keep}

    def _check_replaceable(self, node: Node, replaced: Node) -> None:
        if node.is_dir and not replaced.is_dir:
            raise OSError(errno.ENOTDIR, "not a directory")
        if not node.is_dir and replaced.is_dir:
            raise OSError(errno.EISDIR, "is a directory")
        if replaced.is_dir and self.entries(replaced):
            raise OSError(errno.ENOTEMPTY, "directory not empty")

    def _apply_remove(
        self, parent: Node, name: bytes, node: Node, remove: Callable[..., None]
    ) -> Callable[[], list[Node]]:
        def apply() -> list[Node]:
            remove(name, dir_fd=self._dir_fd(parent))
            if node.link == (parent, name):
                node.link = None
            return [parent]

        return apply

    def _apply_attrs(
        self, node: Node, mode: int, uid: int, gid: int, atime: int, mtime: int
    ) -> list[Node]:
        if node.link is None:
            return []
        parent, name = node.link
        pfd = self._dir_fd(parent)
        if not stat.S_ISLNK(mode):
            os.chmod(name, stat.S_IMODE(mode), dir_fd=pfd)
        with contextlib.suppress(OSError):
            os.chown(name, uid, gid, dir_fd=pfd, follow_symlinks=False)
        os.utime(name, ns=(atime, mtime), dir_fd=pfd, follow_symlinks=False)
        return []


def _set_owner(fd: int, mode: int, uid: int, gid: int) -> None:
    os.fchmod(fd, stat.S_IMODE(mode))
    with contextlib.suppress(OSError):  # not root: the backing stays ours
        os.fchown(fd, uid, gid)
