"""The client side of a fault file system's control socket (protocol: chaoskit/disk/faultfs.py).

Blocking on purpose: the requests are quick, and the power-loss sequence must run its
steps strictly in order on one connection (the connection holds the freeze: if the
client dies, the file system thaws by itself).
"""

from __future__ import annotations

import json
import socket
from types import TracebackType
from typing import Any

from chaoskit.errors import SetupError

# A sync-all may fsync many files on a loaded disk; a hang beyond this is a dead mount.
TIMEOUT_S = 60.0


class ControlError(SetupError):
    """The file system refused a request; the message is its reason."""


class Control:
    """One connection to a fault file system's control socket."""

    def __init__(self, path: str, *, timeout: float = TIMEOUT_S, name: str = "") -> None:
        self.path = path
        self.name = name or path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except OSError as exc:
            self._sock.close()
            raise SetupError(f"fault file system {self.name} does not answer: {exc}") from None
        self._reader = self._sock.makefile("rb")

    def request(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send one command; its answer without ``ok``, or ``ControlError`` with its reason."""
        line = json.dumps({"cmd": cmd, **fields}).encode() + b"\n"
        try:
            self._sock.sendall(line)
            answer = self._reader.readline()
        except OSError as exc:
            raise SetupError(f"fault file system {self.name} failed on {cmd}: {exc}") from None
        if not answer:
            raise SetupError(f"fault file system {self.name} closed the connection on {cmd}")
        reply: dict[str, Any] = json.loads(answer)
        if not reply.pop("ok", False):
            raise ControlError(f"fault file system {self.name}: {cmd}: {reply.get('error')}")
        return reply

    def close(self) -> None:
        self._reader.close()
        self._sock.close()

    def __enter__(self) -> Control:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def request(path: str, cmd: str, **fields: Any) -> dict[str, Any]:
    """One command on a connection of its own."""
    with Control(path) as control:
        return control.request(cmd, **fields)
