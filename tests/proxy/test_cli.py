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


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
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


def run_to_end(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaoskit.proxy", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--host", "0.0.0.0"], "error: refusing to serve the fault API on 0.0.0.0"),
        (["--allow-client", "gateway"], "error: 'gateway' is not an IP network"),
        (["--token-file", "/nonexistent/token"], "error: cannot read token file"),
    ],
)
def test_refusals_at_start_are_one_line(args: list[str], message: str) -> None:
    done = run_to_end("--port", "0", *args)
    assert done.returncode == 2
    assert done.stderr.strip().startswith(message), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_remote_listening_when_allowed_and_a_token_from_the_environment() -> None:
    token = "env-token-" + "e" * 30
    with start(
        "--port",
        "0",
        "--host",
        "0.0.0.0",
        "--allow-remote-listen",
        env={"CHAOSKIT_PROXY_TOKEN": token},
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "http://0.0.0.0:" in line and "token required" in line, line
            port = int(line.split("http://0.0.0.0:")[1].split()[0])
            url = f"http://127.0.0.1:{port}"
            assert httpx.get(f"{url}/version", timeout=10).status_code == 401
            auth = {"Authorization": f"Bearer {token}"}
            body = {"name": "a", "listen": "0.0.0.0:0", "upstream": "127.0.0.1:9"}
            made = httpx.post(f"{url}/proxies", json=body, headers=auth, timeout=10)
            assert made.status_code == 201 and made.json()["listen"].startswith("0.0.0.0:")
            cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
            assert token.encode() not in cmdline
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(15)
