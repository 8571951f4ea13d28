"""TCP ports for nodes, proxies and published containers that nothing else takes first.

A port found free by binding to port 0 and closing is free only for that instant. Two
things take such ports before a node gets to bind them, and both were seen failing
runs (``address already in use`` at start-up):

- The kernel hands ports from ``ip_local_port_range`` (32768-60999 on Linux) to every
  outgoing connection: any HTTP client on the machine can get the port a node is
  about to listen on. So ports come from below that range (or above it when there is
  no room below).
- Another chaoskit run on the machine (parallel tests, a nightly matrix) picks the
  same port. So each port is leased: an exclusive ``flock`` on a file named after it
  in a directory shared by every run on the machine. The lease is held until the run
  releases it, and the kernel drops it if the process dies, so a crash leaks nothing.

A port that is leased but where something else listens (a user's service) is skipped
by a bind test.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
import tempfile
from pathlib import Path

from chaoskit.errors import SetupError

#: Shared by every chaoskit process of this machine (override for tests).
LEASE_DIR_ENV = "CHAOSKIT_PORT_DIR"
#: The lowest port handed out: below it live well-known and registered services.
LOWEST = 20000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
#: How many candidates to try before giving up (the range holds thousands).
ATTEMPTS = 2000

#: Leases kept for the life of this process (``reserve_port``).
_process_leases: list[PortLease] = []


class PortLease:
    """Ports held for one run; ``release`` (or the end of the process) frees them."""

    def __init__(self, ports: list[int], files: list[int]) -> None:
        self.ports = ports
        self._files = files

    def release(self) -> None:
        """Free the ports for other runs (idempotent)."""
        files, self._files = self._files, []
        for fd in files:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> PortLease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def lease_ports(count: int, host: str = "127.0.0.1") -> PortLease:
    """``count`` distinct ports on ``host``, leased until ``release``."""
    lease = PortLease([], [])
    rng = random.Random()  # fresh entropy: parallel runs start at different places
    low, high = candidate_range()
    try:
        for _ in range(ATTEMPTS):
            if len(lease.ports) == count:
                return lease
            port = rng.randint(low, high)
            if port in lease.ports:
                continue
            fd = _lock(port)
            if fd is None:
                continue
            if _bindable(host, port):
                lease.ports.append(port)
                lease._files.append(fd)
            else:
                os.close(fd)
        if len(lease.ports) == count:
            return lease
    except BaseException:
        lease.release()
        raise
    lease.release()
    raise SetupError(f"no {count} free TCP ports on {host} in {low}-{high}")


def reserve_port(host: str = "127.0.0.1") -> int:
    """One port leased until this process exits: for ports a target or a test picks
    itself, whose run has no hook to release them. Costs one open file each."""
    lease = lease_ports(1, host)
    _process_leases.append(lease)
    return lease.ports[0]


def candidate_range(ephemeral: tuple[int, int] | None = None) -> tuple[int, int]:
    """Ports outside the kernel's ephemeral range: below it, or above when it starts low.

    >>> candidate_range((32768, 60999))
    (20000, 32767)
    >>> candidate_range((1024, 60999))
    (61000, 65535)
    """
    low, high = ephemeral or _ephemeral_range()
    if low - 1 - LOWEST >= 1000:
        return LOWEST, low - 1
    if 65535 - high >= 1000:
        return high + 1, 65535
    return LOWEST, 65535  # the whole space is ephemeral: leases and bind tests still help


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = EPHEMERAL_RANGE.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def lease_dir() -> Path:
    path = Path(os.environ.get(LEASE_DIR_ENV) or Path(tempfile.gettempdir()) / "chaoskit-ports")
    path.mkdir(mode=0o777, parents=True, exist_ok=True)
    return path


def _lock(port: int) -> int | None:
    """An open file holding the lease of ``port``, or None when another run holds it.

    Lease files are never removed: removing one while another process waits to lock
    it would give two runs the same port.
    """
    path = lease_dir() / str(port)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except PermissionError:
        return None  # another user's lease
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _bindable(host: str, port: int) -> bool:
    """Nobody listens on or holds ``port`` (not even in TIME_WAIT: no SO_REUSEADDR)."""
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
