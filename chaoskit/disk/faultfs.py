"""The fault file system process: ``python -m chaoskit.disk.faultfs BACKING MOUNTPOINT``.

It mounts a pyfuse3 (libfuse 3, trio) file system at MOUNTPOINT that shows BACKING plus
every change not yet synced (chaoskit/disk/volume.py), and serves a control socket
(``--control PATH``, a Unix socket, mode 0600) that speaks JSON lines, one request and
one answer per line:

=========================================  =============================================
``{"cmd": "ping"}``                         ``{"ok": true, "pid": ...}``: the mount is up
``{"cmd": "status"}``                       pending files, bytes and metadata ops, paths
                                            of files with unsynced data; frozen or not
``{"cmd": "sync-all"}``                     make everything durable
``{"cmd": "freeze", "torn": {...}?}``       block every new file system request until
                                            ``thaw`` or until this connection closes;
                                            ``torn`` (``{"path", "fraction"}``) is checked
                                            now and used by the next ``power-loss``
``{"cmd": "power-loss"}``                   drop every unsynced change (after tearing the
                                            write named at ``freeze``); answers what was
                                            dropped
``{"cmd": "torn-write", "path", "fraction"}``  ``freeze`` with ``torn`` + ``power-loss``
``{"cmd": "thaw"}``                         let requests through again
=========================================  =============================================

Errors answer ``{"ok": false, "error": "..."}``.

Freezing needs no draining: every request handler runs to completion without yielding
to the event loop once it has passed the gate, so when ``freeze`` is answered no request
is half done. Requests that arrive while frozen wait at the gate; after a power loss
they, and every file handle opened before it, fail with EIO: they belong to the process
that was killed with the power. The mount itself stays: the node restarts on it and
sees exactly the backing directory, under new inode numbers (the kernel revalidates
every name, since entries and attributes are given a time-out of 0).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import json
import logging
import os
import resource
import signal
import socket
import stat
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import pyfuse3
import trio

from chaoskit.disk.volume import Node, Volume

log = logging.getLogger("chaoskit.faultfs")

P = ParamSpec("P")
T = TypeVar("T")
# Control lines are short JSON objects; anything longer is a confused client.
MAX_LINE = 64 * 1024


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


class ControlServer:
    """The control socket: one JSON request per line, one JSON answer per line."""

    def __init__(self, fs: FaultFS) -> None:
        self.fs = fs

    async def serve(self, path: str, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        sock = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        old = os.umask(0o177)  # the socket is born 0600: no window for another user
        try:
            await sock.bind(path)
        finally:
            os.umask(old)
        sock.listen(16)
        listener = trio.SocketListener(sock)
        task_status.started()
        try:
            await trio.serve_listeners(self._connection, [listener])
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)

    async def _connection(self, stream: trio.SocketStream) -> None:
        freezer = _Session()
        buffer = b""
        try:
            async with stream:
                while True:
                    chunk = await stream.receive_some(MAX_LINE)
                    if not chunk:
                        return
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        answer = self._answer(line, freezer)
                        await stream.send_all(json.dumps(answer).encode() + b"\n")
                    if len(buffer) > MAX_LINE:
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass
        finally:
            if freezer.holds:  # the client went away: never leave the mount frozen
                self.fs.thaw()

    def _answer(self, line: bytes, session: _Session) -> dict[str, Any]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict):
                raise ValueError("a request is a JSON object")
            result = self._run(str(request.get("cmd")), request, session)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return {"ok": False, "error": message}
        return {"ok": True, **result}

    def _run(self, cmd: str, request: dict[str, Any], session: _Session) -> dict[str, Any]:
        fs = self.fs
        if cmd == "ping":
            return {"pid": os.getpid()}
        if cmd == "status":
            pending = fs.volume.pending().to_json()
            paths = fs.volume.dirty_paths()
            return {**pending, "dirty_paths": paths, "frozen": fs.frozen, "epoch": fs.epoch}
        if cmd == "sync-all":
            fs.volume.sync_all()
            return {}
        if cmd == "freeze":
            torn = _torn(request.get("torn"))
            info = fs.check_torn(torn) if torn is not None else None
            fs.freeze()
            session.holds, session.torn = True, torn
            return {"torn": info} if info else {}
        if cmd == "power-loss":
            torn, session.torn = session.torn, None
            return fs.power_loss(torn)
        if cmd == "torn-write":
            torn = _torn(request)
            assert torn is not None
            fs.check_torn(torn)
            return fs.power_loss(torn)
        if cmd == "thaw":
            fs.thaw()
            session.holds = False
            return {}
        raise ValueError(f"unknown command {cmd!r}")


@dataclass
class _Session:
    holds: bool = False
    torn: dict[str, Any] | None = None


def _torn(spec: Any) -> dict[str, Any] | None:
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("path"), str):
        raise ValueError("torn needs a path")
    fraction = float(spec.get("fraction", 0.5))
    if not 0.0 <= fraction <= 1.0:
        raise ValueError("fraction must be within 0..1")
    return {"path": spec["path"], "fraction": fraction}


async def _run(fs: FaultFS, control: str) -> None:
    async with trio.open_nursery() as nursery:
        await nursery.start(ControlServer(fs).serve, control)
        nursery.start_soon(_stop_on_signal)
        await pyfuse3.main()
        nursery.cancel_scope.cancel()


async def _stop_on_signal() -> None:
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
        async for _ in signals:
            pyfuse3.terminate()
            return


def _raise_fd_limit() -> None:
    """Every file the node opens may hold a backing descriptor: allow the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaoskit.disk.faultfs",
        description="Mount a FUSE file system that loses unsynced writes on command.",
    )
    parser.add_argument("backing", help="directory holding what is durable")
    parser.add_argument("mountpoint", help="where the file system is mounted")
    parser.add_argument("--control", required=True, help="path of the control Unix socket")
    parser.add_argument("--fsname", default="chaoskit", help="source name shown in /proc/mounts")
    parser.add_argument("--debug", action="store_true", help="log every FUSE request")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="faultfs %(levelname)s %(message)s",
    )
    try:
        backing_fd = os.open(args.backing, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as exc:
        print(f"faultfs: cannot open {args.backing}: {exc.strerror}", file=sys.stderr)
        return 2
    _raise_fd_limit()
    fs = FaultFS(backing_fd)
    options = {"fsname=" + args.fsname, "subtype=chaoskit", "allow_other", "default_permissions"}
    if args.debug:
        options.add("debug")
    try:
        pyfuse3.init(fs, args.mountpoint, options)
    except RuntimeError as exc:
        print(f"faultfs: cannot mount {args.mountpoint}: {exc}", file=sys.stderr)
        return 2
    try:
        trio.run(_run, fs, args.control)
    finally:
        pyfuse3.close(unmount=True)
        fs.volume.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
