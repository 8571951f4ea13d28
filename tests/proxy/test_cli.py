"""``python -m chaoskit.proxy`` (the ``chaoskit proxy`` command) as a real process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "chaoskit.proxy", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_serves_on_loopback_and_exits_cleanly_on_ctrl_c() -> None:
    with start("--port", "0", "--seed", "5") as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()
            assert "http://127.0.0.1:" in line, line
            url = line.split()[line.split().index("on") + 1]
            assert httpx.get(f"{url}/version", timeout=10).json()["version"].startswith("2.")
            made = httpx.post(f"{url}/proxies", json={"name": "a", "upstream": "127.0.0.1:9"})
            listen_port = int(made.json()["listen"].rpartition(":")[2])
            proc.send_signal(signal.SIGINT)
            assert proc.wait(15) == 0
            assert "Traceback" not in proc.stderr.read()
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", listen_port), timeout=5).close()
        finally:
            if proc.poll() is None:
                proc.kill()


def test_port_in_use_is_a_one_line_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with start("--port", str(taken.getsockname()[1])) as proc:
            try:
                _, err = proc.communicate(timeout=30)
            finally:
                if proc.poll() is None:
                    proc.kill()
    assert proc.returncode == 2
    assert err.strip().startswith("error: cannot serve the proxy API on 127.0.0.1:")
    assert "Traceback" not in err
