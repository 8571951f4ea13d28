"""The patroni target without processes: its files, /patroni parsing, options."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.core.target import NodeInfo, Status
from chaoskit.errors import ConfigError, SetupError
from chaoskit.targets.patroni._config import Settings, patroni_config, reachable_by_postgres
from chaoskit.targets.patroni.target import PatroniTarget, parse_patroni

OWN = {"etcd": ("127.0.0.1", 1001), "rest": ("127.0.0.1", 1002), "postgres": ("127.0.0.1", 1003)}
FRONTS = {"etcd": ("127.0.0.1", 2001), "rest": ("127.0.0.1", 2002), "postgres": ("127.0.0.1", 2003)}
PORTS = {"client": 999, **{k: port for k, (_h, port) in OWN.items()}}


def test_patroni_listens_on_real_ports_and_advertises_its_fronts() -> None:
    conf = patroni_config("n2", Path("/d/n2"), ("127.0.0.1", 999), OWN, FRONTS, Settings())
    assert conf["name"] == "n2"
    assert conf["restapi"] == {"listen": "127.0.0.1:1002", "connect_address": "127.0.0.1:2002"}
    assert conf["postgresql"]["listen"] == "127.0.0.1:1003"
    assert conf["postgresql"]["connect_address"] == "127.0.0.1:2003"
    assert conf["etcd3"] == {"hosts": ["127.0.0.1:999"], "use_proxies": True, "protocol": "http"}
    assert conf["bootstrap"]["dcs"]["ttl"] == 10
    assert conf["bootstrap"]["dcs"]["synchronous_mode"] is False
    # No Unix socket: a path under a long store would pass the 107-byte limit.
    assert conf["postgresql"]["parameters"]["unix_socket_directories"] == ""


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory user postgres can traverse (pytest's own base directory is 0700)."""
    path = Path(tempfile.mkdtemp(prefix="chaoskit-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_launch_writes_the_wrapper_files(open_dir: Path) -> None:
    target = PatroniTarget()
    node = NodeInfo("n1", 0, "127.0.0.1", PORTS, open_dir / "runs" / "r" / "data" / "n1")
    front = {k: ("127.0.0.1", 3000 + i) for i, k in enumerate(("etcd", "rest", "postgres"))}
    peers = {"n1": FRONTS, "n2": front}
    launch = target.launch(node, peers)
    assert launch.argv[0] == "/usr/bin/python3" and launch.argv[1].endswith("_node.py")
    wrapper = json.loads(Path(launch.argv[2]).read_text())
    etcd = wrapper["etcd_argv"]
    assert etcd[etcd.index("--initial-advertise-peer-urls") + 1] == "http://127.0.0.1:2001"
    cluster = etcd[etcd.index("--initial-cluster") + 1]
    assert cluster == "n1=http://127.0.0.1:2001,n2=http://127.0.0.1:3000"
    assert wrapper["user"] == "postgres" and wrapper["etcd_url"] == "http://127.0.0.1:999"
    patroni = json.loads(Path(wrapper["patroni_config"]).read_text())
    assert patroni["postgresql"]["listen"] == "127.0.0.1:1003"
    assert patroni["postgresql"]["connect_address"] == "127.0.0.1:2003"


def test_launch_needs_named_destination_ports(open_dir: Path) -> None:
    node = NodeInfo("n1", 0, "127.0.0.1", PORTS, open_dir / "n1")
    with pytest.raises(ConfigError, match="destination-mode fronts for etcd, rest, postgres"):
        PatroniTarget().launch(node, {"n2": {"etcd": ("127.0.0.1", 1)}})


def test_a_store_postgres_cannot_enter_is_a_setup_error(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(SetupError, match=r"cannot enter .*closed"):
        reachable_by_postgres(closed / "runs" / "n1")


def test_roles_from_patroni() -> None:
    primary = {"state": "running", "role": "master", "timeline": 3}
    assert parse_patroni(primary) == Status("leader", 3, None)
    assert parse_patroni({"state": "running", "role": "replica", "timeline": 3}).role == "follower"
    starting = {"state": "starting", "role": "replica"}
    assert parse_patroni(starting) == Status("candidate", None, None)
    with pytest.raises(ValueError, match="without role and state"):
        parse_patroni({"patroni": {}})


def test_options() -> None:
    target = PatroniTarget()
    with pytest.raises(ConfigError, match="unknown patroni option"):
        target.configure({"tll": "5"})
    with pytest.raises(ConfigError, match="ttl >= loop-wait"):
        target.configure({"ttl": "4", "retry-timeout": "3"})
    with pytest.raises(SetupError, match="apt-get install -y patroni postgresql"):
        target.configure({"pg-bin": "/nonexistent"})
    target.configure({"ttl": "12", "synchronous": "true"})
    assert target.election_timeout == 12.0 and target.settings.synchronous
