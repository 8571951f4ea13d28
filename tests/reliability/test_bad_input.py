"""Bad input that tests/run/test_cli_errors.py does not cover: ports in use and a
missing binary. Each gets one clear line and exit status 2, and a run that could not
start leaves no process, listener, proxy or registry entry behind."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.runtimes.local import find_leftovers

from .conftest import ExternalProxy, Session, port_listening

pytestmark = pytest.mark.integration


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on (and never answers)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield s.getsockname()[1]


def _one_line_exit_2(res: object, message: str) -> None:
    code, out, err = res.returncode, res.stdout, res.stderr  # type: ignore[attr-defined]
    assert code == 2, out + err
    assert message in " ".join(err.split())  # rich may wrap a long line
    assert "Traceback" not in out + err
    assert len([line for line in err.splitlines() if line.strip()]) <= 3


def test_proxy_port_in_use(session: Session, busy_port: int) -> None:
    res = session.cli("proxy", "--port", str(busy_port), timeout=60)
    _one_line_exit_2(res, "address already in use")


def test_serve_port_in_use(session: Session, busy_port: int) -> None:
    (session.cwd / "runs").mkdir()
    res = session.cli("serve", "runs", "--port", str(busy_port), timeout=60)
    _one_line_exit_2(res, "address already in use")


def test_toxiproxy_url_where_no_proxy_answers(session: Session, busy_port: int) -> None:
    res = session.cli(
        "run",
        "--toxiproxy-url",
        f"http://127.0.0.1:{busy_port}",
        "--nodes",
        "3",
        "--time-limit",
        "5",
        "--no-progress",
        timeout=120,
    )
    _one_line_exit_2(res, "does not answer")
    assert not list(session.cwd.glob("runs/*/*/logs/n*.log"))  # no node was started
    assert session.registry() == []


def _spec(tmp_path: Path, argv: str) -> Path:
    spec = tmp_path / "svc.toml"
    spec.write_text(
        f'name = "svc"\n[launch]\nargv = {argv}\n[status]\nhttp = "GET /status"\nrole = "role"\n'
    )
    return spec


def test_missing_binary_for_a_target(
    session: Session, tmp_path: Path, external_proxy: ExternalProxy
) -> None:
    spec = _spec(tmp_path, '["/nonexistent/chaoskit-no-such-binary", "--port", "{port}"]')
    res = session.cli(
        "run",
        "--target",
        str(spec),
        "--nodes",
        "3",
        "--time-limit",
        "5",
        "--no-progress",
        "--toxiproxy-url",
        external_proxy.url,
        timeout=120,
    )
    _one_line_exit_2(res, "cannot start node n1: /nonexistent/chaoskit-no-such-binary")
    run_id = session.config()["run_id"]
    assert find_leftovers(run_id) == {}
    assert session.registry() == []
    assert not [n for n in external_proxy.proxies() if n.startswith(f"ck-{run_id}-")]


def test_nodes_that_exit_at_start_leave_nothing(session: Session, tmp_path: Path) -> None:
    # The first node starts and listens; the second exits: the first must go too.
    code = (
        "import os, socket, sys, time\n"
        "if os.environ.get('NODE') == '1': sys.exit(3)\n"
        "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen()\n"
        "time.sleep(600)\n"
    )
    script = tmp_path / "node.py"
    script.write_text(code)
    spec = tmp_path / "svc.toml"
    spec.write_text(
        'name = "svc"\n[launch]\n'
        f'argv = ["python3", "{script}", "{{port}}"]\n'
        'env = {NODE = "{index}"}\n'
        '[status]\nhttp = "GET /status"\nrole = "role"\n'
    )
    res = session.cli(
        "run",
        "--target",
        str(spec),
        "--nodes",
        "3",
        "--time-limit",
        "5",
        "--no-progress",
        timeout=120,
    )
    _one_line_exit_2(res, "exited at start-up")
    config = session.config()
    assert find_leftovers(config["run_id"]) == {}
    ports = [int(a.rsplit(":", 1)[1]) for a in config["node_addresses"].values()]
    assert not [p for p in ports if port_listening(p)]
    assert session.registry() == []
