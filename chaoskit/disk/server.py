"""The control socket of the fault file system: one JSON request per line (protocol:
chaoskit/disk/faultfs.py). A connection that froze the file system thaws it when it
closes, so a controller that dies mid-way never leaves a node hanging.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import dataclass
from typing import Any

import trio

from chaoskit.disk.operations import FaultFS

# Control lines are short JSON objects; anything longer is a confused client.
MAX_LINE = 64 * 1024


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
