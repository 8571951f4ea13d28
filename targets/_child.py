"""The real server an election client wraps (etcd, ZooKeeper), as its child process.

Why here: the etcd-election and zk-election clients both own a server process that
must never outlive them. It gets its own session (so a signal to the client's group
does not reach it twice), its output goes to a log file in the node's data directory,
and the kernel kills it when the client dies (``PR_SET_PDEATHSIG``), even by SIGKILL.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the client dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn_server(
    argv: Sequence[str], log_path: Path, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` logging to ``log_path`` (appended); it dies with this process.

    Call it before the client starts any thread: ``preexec_fn`` is only safe then.
    """
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    with log:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
