"""Port leases: outside the ephemeral range, exclusive between processes, freed by death."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from chaoskit.errors import SetupError
from chaoskit.runtimes import ports as port_leases
from chaoskit.runtimes.ports import candidate_range, lease_ports

CHILD_LOCK = textwrap.dedent(
    """
    import sys
    from chaoskit.runtimes.ports import _lock
    print("free" if _lock(int(sys.argv[1])) is not None else "held", flush=True)
    """
)


@pytest.fixture(autouse=True)
def private_lease_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "ports"
    monkeypatch.setenv(port_leases.LEASE_DIR_ENV, str(directory))
    return directory


def child_sees(port: int) -> str:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run(
        [sys.executable, "-c", CHILD_LOCK, str(port)], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_ranges_avoid_the_ephemeral_ports() -> None:
    assert candidate_range((32768, 60999)) == (20000, 32767)
    assert candidate_range((1024, 60999)) == (61000, 65535)
    assert candidate_range((1024, 65000)) == (20000, 65535)


def test_a_lease_gives_distinct_bindable_ports_outside_the_ephemeral_range() -> None:
    low, high = candidate_range()
    with lease_ports(6) as lease:
        assert len(set(lease.ports)) == 6
        assert all(low <= p <= high for p in lease.ports)
    for port in lease.ports:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))


def test_another_process_cannot_take_a_leased_port_until_it_is_released() -> None:
    lease = lease_ports(1)
    port = lease.ports[0]
    assert child_sees(port) == "held"
    lease.release()
    lease.release()  # idempotent
    assert child_sees(port) == "free"


def test_a_killed_process_frees_its_leases(private_lease_dir: Path) -> None:
    script = "from chaoskit.runtimes.ports import lease_ports; import time\n"
    script += "print(lease_ports(1).ports[0], flush=True); time.sleep(60)"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    assert child_sees(port) == "held"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdout.close()
    assert child_sees(port) == "free"


def test_a_port_someone_listens_on_is_never_leased(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(port_leases, "candidate_range", lambda: (port, port))
        monkeypatch.setattr(port_leases, "ATTEMPTS", 20)
        with pytest.raises(SetupError, match="no 1 free TCP ports"):
            lease_ports(1)
