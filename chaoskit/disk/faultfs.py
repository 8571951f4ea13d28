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
import logging
import os
import resource
import signal
import sys

import pyfuse3
import trio

from chaoskit.disk.operations import FaultFS
from chaoskit.disk.server import ControlServer


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
