"""A disabled proxy's port cannot be taken by an outgoing connection.

The failure this guards against: a cut closed a link proxy's listener, a connection
opened meanwhile was given that port as its local port, and the heal failed with
"address already in use". In a network namespace of its own (root: CI runs as root)
the ephemeral range is narrowed to two ports, one of them the listener's, so the next
outgoing connection gets the listener's port whenever the kernel may hand it out.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import socket, sys
    from chaoskit.proxy._parking import park, unpark
    sink = socket.create_server(("127.0.0.1", 50000))
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))  # the kernel chooses, as for a link proxy
    listener.listen(8)
    port = listener.getsockname()[1]
    holder = park(listener) if sys.argv[1] == "park" else listener.close()
    taken = []
    for _ in range(2):
        try:
            taken.append(socket.create_connection(("127.0.0.1", 50000)).getsockname()[1])
        except OSError:
            pass
    print("taken" if port in taken else "held")
    if holder is not None:
        again = unpark(holder, 8)
        again.setblocking(True)
        socket.create_connection(("127.0.0.1", port))
        again.accept()
        print("listens again")
    """
)


def _in_namespace(mode: str) -> str:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (a network namespace of its own)")
    shell = (
        "ip link set lo up && echo '40000 40001' > /proc/sys/net/ipv4/ip_local_port_range"
        f' && exec "{sys.executable}" -c "$0" {mode}'
    )
    done = subprocess.run(
        ["unshare", "-n", "sh", "-c", shell, SCRIPT],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_closed_listener_loses_its_port_to_the_next_connection() -> None:
    assert _in_namespace("close").split() == ["taken"]


def test_a_parked_listener_keeps_its_port_and_listens_again() -> None:
    assert _in_namespace("park").split() == ["held", "listens", "again"]
