"""The FUSE operations of the fault file system: pyfuse3 requests over a ``Volume``.

Each request handler is synchronous behind an asynchronous gate (``_op``): once it has
passed the gate it runs to completion without yielding to the event loop, so a freeze
(chaoskit/disk/server.py) never finds a request half done. A power loss swaps the
``Volume`` (chaoskit/disk/volume.py) for a fresh one over the same backing directory and
bumps the epoch: handles and waiting requests of the old epoch fail with EIO, since they
belong to the process that was killed with the power.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
import stat
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import pyfuse3
import trio

from chaoskit.disk.volume import Node, Volume

log = logging.getLogger("chaoskit.faultfs")

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(slots=True)
class _Handle:
    node: Node
    epoch: int
    entries: list[tuple[bytes, Node]] | None = None  # directories: a snapshot at opendir


_Sync = Callable[Concatenate["FaultFS", P], T]
_Async = Callable[Concatenate["FaultFS", P], Coroutine[Any, Any, T]]


def _op(*, check_epoch: bool = True) -> Callable[[_Sync[P, T]], _Async[P, T]]:
    """Turn a synchronous handler into a pyfuse3 one behind the freeze gate.

    OSError becomes the FUSE error of its errno; anything else is a bug: logged with its
    traceback and answered with EIO rather than taking the whole mount down.
    """

    def wrap(fn: _Sync[P, T]) -> _Async[P, T]:
        @functools.wraps(fn)
        async def handler(self: FaultFS, /, *args: P.args, **kwargs: P.kwargs) -> T:
            await self.gate(check_epoch=check_epoch)
            try:
                return fn(self, *args, **kwargs)
            except pyfuse3.FUSEError:
                raise
            except OSError as exc:
                raise pyfuse3.FUSEError(exc.errno or errno.EIO) from None
            except Exception:
                log.exception("bug in %s", fn.__name__)
                raise pyfuse3.FUSEError(errno.EIO) from None

        return handler

    return wrap


class FaultFS(pyfuse3.Operations):
    """pyfuse3 operations over a ``Volume``; a power loss swaps the volume for a fresh one."""

    supports_dot_lookup = True
    enable_writeback_cache = False

    def __init__(self, backing_fd: int) -> None:
        super().__init__()
        self.backing_fd = backing_fd
        self.volume = Volume(backing_fd)
        self.epoch = 0
        self._thawed: trio.Event | None = None
        self._handles: dict[int, _Handle] = {}
        self._next_fh = 1

    # ------------------------------------------------------------ freezing

    async def gate(self, *, check_epoch: bool) -> None:
        """Wait while frozen; a request that waited across a power loss fails (EIO)."""
        thawed = self._thawed
        if thawed is None:
            return
        epoch = self.epoch
        await thawed.wait()
        if check_epoch and epoch != self.epoch:
            raise pyfuse3.FUSEError(errno.EIO)

    @property
    def frozen(self) -> bool:
        return self._thawed is not None

    def freeze(self) -> None:
        if self._thawed is None:
            self._thawed = trio.Event()

    def thaw(self) -> None:
        if self._thawed is not None:
            self._thawed.set()
            self._thawed = None

    def power_loss(self, torn: dict[str, Any] | None = None) -> dict[str, Any]:
        """Drop every unsynced change (tearing ``torn``'s last write first)."""
        result: dict[str, Any] = {}
        if torn is not None:
            node = self.volume.resolve(torn["path"])
            result["torn"] = {"path": torn["path"], **self.volume.tear(node, torn["fraction"])}
        pending = self.volume.pending()
        old = self.volume
        old.close()
        self.volume = Volume(self.backing_fd, first_ino=old.next_ino)
        self.epoch += 1
        result.update(
            dropped_files=pending.files, dropped_bytes=pending.bytes, dropped_ops=pending.ops
        )
        result["epoch"] = self.epoch
        return result

    def check_torn(self, torn: dict[str, Any]) -> dict[str, Any]:
        """Is there an unsynced write to tear at ``torn["path"]``? Raises OSError if not."""
        node = self.volume.resolve(str(torn["path"]))
        last = node.data.last if node.data is not None else None
        if last is None:
            raise OSError(errno.ENODATA, f"no unsynced write of {torn['path']} to tear")
        if last.length < 2:
            raise OSError(errno.ENODATA, f"the last write of {torn['path']} is one byte")
        return {"path": torn["path"], "offset": last.offset, "length": last.length}

    # ------------------------------------------------------------ helpers

    def _attrs(self, node: Node) -> pyfuse3.EntryAttributes:
        attrs = pyfuse3.EntryAttributes()
        attrs.st_ino = pyfuse3.InodeT(node.ino)
        attrs.generation = self.epoch
        # No kernel caching of names or attributes: after a power loss every name must
        # be looked up again (a cached one could name a file that is gone).
        attrs.entry_timeout = 0
        attrs.attr_timeout = 0
        attrs.st_mode = pyfuse3.ModeT(node.mode)
        attrs.st_nlink = node.nlink
        attrs.st_uid = node.uid
        attrs.st_gid = node.gid
        attrs.st_rdev = node.rdev
        attrs.st_size = node.size
        attrs.st_blksize = 4096
        attrs.st_blocks = -(-node.size // 512)
        attrs.st_atime_ns = node.atime_ns
        attrs.st_mtime_ns = node.mtime_ns
        attrs.st_ctime_ns = node.ctime_ns
        return attrs

    def _entry(self, node: Node) -> pyfuse3.EntryAttributes:
        self.volume.remember(node)
        return self._attrs(node)

    def _handle(self, fh: int) -> _Handle:
        handle = self._handles.get(fh)
        if handle is None or handle.epoch != self.epoch:
            raise pyfuse3.FUSEError(errno.EIO)
        return handle

    def _open_handle(self, node: Node, *, entries: list[tuple[bytes, Node]] | None = None) -> int:
        fh = self._next_fh
        self._next_fh += 1
        self._handles[fh] = _Handle(node, self.epoch, entries)
        self.volume.opened(node)
        return fh

    def _close_handle(self, fh: int) -> None:
        handle = self._handles.pop(fh, None)
        if handle is not None and handle.epoch == self.epoch:
            self.volume.released(handle.node)

    # ------------------------------------------------------------ names

    @_op()
    def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        vol = self.volume
        return self._entry(vol.lookup(vol.get(parent_inode), name))

    @_op(check_epoch=False)
    def forget(self, inode_list: Sequence[tuple[int, int]]) -> None:
        for ino, count in inode_list:
            self.volume.forget(ino, count)

    @_op()
    def getattr(self, inode: int, ctx: pyfuse3.RequestContext) -> pyfuse3.EntryAttributes:
        return self._attrs(self.volume.get(inode))

    @_op()
    def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        node = self._handle(fh).node if fh is not None else self.volume.get(inode)
        self.volume.setattr(
            node,
            mode=attr.st_mode if fields.update_mode else None,
            uid=attr.st_uid if fields.update_uid else None,
            gid=attr.st_gid if fields.update_gid else None,
            atime_ns=attr.st_atime_ns if fields.update_atime else None,
            mtime_ns=attr.st_mtime_ns if fields.update_mtime else None,
            size=attr.st_size if fields.update_size else None,
        )
        return self._attrs(node)

    @_op()
    def readlink(self, inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        node = self.volume.get(inode)
        if not stat.S_ISLNK(node.mode):
            raise OSError(errno.EINVAL, "not a symbolic link")
        return node.target

    @_op()
    def mknod(
        self, parent_inode: int, name: bytes, mode: int, rdev: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        vol = self.volume
        node = vol.create(vol.get(parent_inode), name, mode, ctx.uid, ctx.gid, rdev)
        return self._entry(node)

    @_op()
    def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        vol = self.volume
        return self._entry(vol.mkdir(vol.get(parent_inode), name, mode, ctx.uid, ctx.gid))

    @_op()
    def symlink(
        self, parent_inode: int, name: bytes, target: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        vol = self.volume
        node = vol.symlink(vol.get(parent_inode), name, bytes(target), ctx.uid, ctx.gid)
        return self._entry(node)

    @_op()
    def link(
        self, inode: int, new_parent_inode: int, new_name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        vol = self.volume
        return self._entry(vol.link(vol.get(inode), vol.get(new_parent_inode), new_name))

    @_op()
    def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        self.volume.unlink(self.volume.get(parent_inode), name)

    @_op()
    def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        self.volume.rmdir(self.volume.get(parent_inode), name)

    @_op()
    def rename(
        self,
        parent_inode_old: int,
        name_old: bytes,
        parent_inode_new: int,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        vol = self.volume
        old_parent, new_parent = vol.get(parent_inode_old), vol.get(parent_inode_new)
        vol.rename(old_parent, name_old, new_parent, name_new, flags)

    # ------------------------------------------------------------ files

    @_op()
    def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        node = self.volume.get(inode)
        if flags & os.O_TRUNC and node.is_file:
            self.volume.setattr(node, size=0)
        return pyfuse3.FileInfo(fh=pyfuse3.FileHandleT(self._open_handle(node)))

    @_op()
    def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: pyfuse3.RequestContext
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        vol = self.volume
        node = vol.create(vol.get(parent_inode), name, mode, ctx.uid, ctx.gid)
        attrs = self._entry(node)
        return pyfuse3.FileInfo(fh=pyfuse3.FileHandleT(self._open_handle(node))), attrs

    @_op()
    def read(self, fh: int, off: int, size: int) -> bytes:
        return self.volume.read(self._handle(fh).node, off, size)

    @_op()
    def write(self, fh: int, off: int, buf: bytes) -> int:
        return self.volume.write(self._handle(fh).node, off, buf)

    @_op(check_epoch=False)
    def flush(self, fh: int) -> None:
        """close(2): nothing to do (data waits for fsync); never fails, even for old handles."""

    @_op(check_epoch=False)
    def release(self, fh: int) -> None:
        self._close_handle(fh)

    @_op()
    def fsync(self, fh: int, datasync: bool) -> None:
        self.volume.fsync(self._handle(fh).node, datasync=datasync)

    # ------------------------------------------------------------ directories

    @_op()
    def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        node = self.volume.get(inode)
        entries = list(self.volume.entries(node).items())
        return self._open_handle(node, entries=entries)

    @_op()
    def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        entries = self._handle(fh).entries or []
        for index in range(start_id, len(entries)):
            name, node = entries[index]
            if node.dead:
                continue
            if not pyfuse3.readdir_reply(token, name, self._attrs(node), index + 1):
                break
            self.volume.remember(node)

    @_op(check_epoch=False)
    def releasedir(self, fh: int) -> None:
        self._close_handle(fh)

    @_op()
    def fsyncdir(self, fh: int, datasync: bool) -> None:
        self.volume.fsync(self._handle(fh).node, datasync=datasync)

    @_op()
    def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        st = os.fstatvfs(self.backing_fd)
        data = pyfuse3.StatvfsData()
        for key in ("f_bsize", "f_frsize", "f_blocks", "f_bfree", "f_bavail"):
            setattr(data, key, getattr(st, key))
        for key in ("f_files", "f_ffree", "f_favail", "f_namemax"):
            setattr(data, key, getattr(st, key))
        return data
