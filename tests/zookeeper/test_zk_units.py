"""ZooKeeper target without a JVM: config text, srvr parsing, options, and op semantics.

The op tests drive ``ZkClients`` against an in-memory fake of kazoo's asynchronous
API, so the read/write/cas rules (what is ``ok``, what is a definite ``fail``, what
is ``info``) are checked without a server.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kazoo import exceptions as kz

from chaoskit.core.target import NodeInfo, Outcome, Status
from chaoskit.errors import ConfigError
from chaoskit.targets.zookeeper import ZooKeeperTarget
from chaoskit.targets.zookeeper._client import ZkClients
from chaoskit.targets.zookeeper._fourlw import parse_srvr
from chaoskit.targets.zookeeper._server import (
    ServerSettings,
    server_ids,
    write_server_files,
    zoo_cfg,
)

PEERS_N2 = {
    "n1": {"quorum": ("127.0.0.1", 9012), "election": ("127.0.0.1", 9013)},
    "n2": {"quorum": ("127.0.0.1", 2001), "election": ("127.0.0.1", 3001)},
    "n3": {"quorum": ("127.0.0.1", 9032), "election": ("127.0.0.1", 9033)},
}

LEADER = """Zookeeper version: 3.8.0-unknown, built on 2024-12-29 17:54 UTC
Latency min/avg/max: 0/0.1/3
Received: 12
Sent: 11
Connections: 1
Outstanding: 0
Zxid: 0x300000007
Mode: leader
Node count: 7
Proposal sizes last/min/max: 48/48/92
"""


def test_each_server_line_dials_the_proxy_and_the_own_line_is_real() -> None:
    text = zoo_cfg("n2", 4000, Path("/d/n2"), PEERS_N2, ServerSettings(tick_ms=200))
    lines = text.splitlines()
    assert "server.1=127.0.0.1:9012:9013" in lines
    assert "server.2=127.0.0.1:2001:3001" in lines
    assert "server.3=127.0.0.1:9032:9033" in lines
    assert "clientPort=4000" in lines and "tickTime=200" in lines
    assert "dataDir=/d/n2" in lines


def test_server_ids_are_natural_and_the_same_for_every_node() -> None:
    ids = [f"n{i}" for i in range(12, 0, -1)]
    assert server_ids(ids) == {f"n{i}": i for i in range(1, 13)}


def test_missing_election_port_is_a_config_error() -> None:
    peers = {**PEERS_N2, "n3": {"quorum": ("127.0.0.1", 1)}}
    with pytest.raises(ConfigError, match="election"):
        zoo_cfg("n1", 4000, Path("/d"), peers, ServerSettings())


def test_write_server_files_writes_myid(tmp_path: Path) -> None:
    cfg = write_server_files("n3", 4000, tmp_path, PEERS_N2, ServerSettings())
    assert (tmp_path / "myid").read_text().strip() == "3"
    assert cfg.read_text().startswith("tickTime=")


def test_srvr_leader_gives_the_epoch_as_term() -> None:
    assert parse_srvr(LEADER, "n1") == Status(role="leader", term=3, leader=None)


def test_srvr_follower_and_looking() -> None:
    follower = LEADER.replace("Mode: leader", "Mode: follower").replace("0x3", "0x2")
    assert parse_srvr(follower, "n2") == Status(role="follower", term=2, leader=None)
    looking = "This ZooKeeper instance is not currently serving requests\n"
    assert parse_srvr(looking, "n2").role == "candidate"


def test_srvr_garbage_raises() -> None:
    with pytest.raises(ValueError, match="Mode"):
        parse_srvr("HTTP/1.1 400 Bad Request\r\n", "n1")
    with pytest.raises(ValueError, match="Zxid"):
        parse_srvr("Mode: leader\n", "n1")


def test_options_are_checked() -> None:
    target = ZooKeeperTarget()
    target.configure({"tick-ms": "200", "sync-limit": "3", "reads": "sync"})
    assert target.settings.tick_ms == 200 and target.read_mode == "sync"
    assert target.election_timeout == pytest.approx(3 * 0.2 + 1.0)
    with pytest.raises(ConfigError, match="did you mean 'tick-ms'"):
        ZooKeeperTarget().configure({"tick-mss": "1"})
    with pytest.raises(ConfigError, match="read mode"):
        ZooKeeperTarget().configure({"reads": "fast"})
    with pytest.raises(ConfigError, match="positive"):
        ZooKeeperTarget().configure({"tick-ms": "0"})


def test_missing_installation_names_the_package(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="apt-get install -y zookeeper"):
        ZooKeeperTarget().configure({"java-dir": str(tmp_path)})


def test_target_declares_two_proxied_peer_ports() -> None:
    target = ZooKeeperTarget()
    assert [(p.name, p.peer) for p in target.ports] == [
        ("client", False),
        ("quorum", True),
        ("election", True),
    ]
    assert target.proxy_mode == "pair" and "register" in target.workloads


# -- op semantics against a fake kazoo ------------------------------------------------


class _Result:
    """kazoo's AsyncResult as far as ``_Caller`` uses it: set, rawlink, successful."""

    def __init__(self) -> None:
        self.value: Any = None
        self.exception: BaseException | None = None
        self._done = False
        self._callbacks: list[Callable[[Any], None]] = []

    def successful(self) -> bool:
        return self._done and self.exception is None

    def settle(self, value: Any = None, exc: BaseException | None = None) -> None:
        self.value, self.exception, self._done = value, exc, True
        for cb in self._callbacks:
            cb(self)

    def rawlink(self, cb: Callable[[Any], None]) -> None:
        self._callbacks.append(cb)
        if self._done:
            cb(self)


class _Stat:
    def __init__(self, version: int) -> None:
        self.version = version


class FakeZk:
    """Znodes in a dict; answers from another thread, as kazoo does.

    ``before_set`` runs just before a conditional set is applied: tests use it to
    slip in a concurrent write. ``lose`` makes every call fail with ConnectionLoss.
    """

    connected = True

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[bytes, int]] = {}
        self.before_set: Callable[[], None] | None = None
        self.lose = False
        self.calls: list[str] = []

    def _answer(self, fn: Callable[[], Any]) -> _Result:
        result = _Result()

        def run() -> None:
            try:
                if self.lose:
                    raise kz.ConnectionLoss()
                result.settle(fn())
            except kz.KazooException as exc:
                result.settle(exc=exc)

        threading.Thread(target=run).start()
        return result

    def get_async(self, path: str) -> _Result:
        self.calls.append("get")

        def get() -> Any:
            if path not in self.nodes:
                raise kz.NoNodeError()
            data, version = self.nodes[path]
            return data, _Stat(version)

        return self._answer(get)

    def set_async(self, path: str, data: bytes, version: int) -> _Result:
        self.calls.append("set")

        def put() -> Any:
            if self.before_set is not None:
                hook, self.before_set = self.before_set, None
                hook()
            if path not in self.nodes:
                raise kz.NoNodeError()
            current = self.nodes[path][1]
            if version not in (-1, current):
                raise kz.BadVersionError()
            self.nodes[path] = (data, current + 1)

        return self._answer(put)

    def create_async(self, path: str, data: bytes) -> _Result:
        self.calls.append("create")

        def create() -> Any:
            parent = path.rsplit("/", 1)[0]
            if parent and parent not in self.nodes:
                raise kz.NoNodeError()
            if path in self.nodes:
                raise kz.NodeExistsError()
            self.nodes[path] = (data, 0)
            return path

        return self._answer(create)

    def sync_async(self, path: str) -> _Result:
        self.calls.append("sync")
        return self._answer(lambda: path)


NODE = NodeInfo(id="n1", index=0, host="127.0.0.1", ports={"client": 1}, data_dir=Path("/x"))


def _run(zk: FakeZk, op: dict[str, Any], reads: Any = "quorum") -> Outcome:
    clients = ZkClients(session_timeout=2.0, read_mode=reads)
    clients._clients[NODE.id] = zk
    return asyncio.run(clients.invoke(NODE, op, timeout=5.0))


def test_write_then_read_and_cas() -> None:
    zk = FakeZk()
    assert _run(zk, {"f": "write", "key": "k1", "value": 3}).type == "ok"
    assert _run(zk, {"f": "read", "key": "k1", "value": None}) == Outcome("ok", value=3)
    assert _run(zk, {"f": "cas", "key": "k1", "value": [3, 4]}).type == "ok"
    miss = _run(zk, {"f": "cas", "key": "k1", "value": [3, 0]})
    assert miss.type == "fail" and "mismatch" in (miss.error or "")
    assert _run(zk, {"f": "get", "key": "k1", "value": None}).value == 4


def test_quorum_read_of_a_missing_key_is_confirmed_by_a_create() -> None:
    zk = FakeZk()
    assert _run(zk, {"f": "read", "key": "k9", "value": None}) == Outcome("ok", value=None)
    assert "create" in zk.calls
    assert _run(zk, {"f": "cas", "key": "k9", "value": [1, 2]}).type == "fail"


def test_quorum_read_fails_when_the_key_changed_before_it_was_confirmed() -> None:
    zk = FakeZk()
    _run(zk, {"f": "write", "key": "k1", "value": 1})

    def concurrent_write() -> None:
        _data, version = zk.nodes["/chaoskit/k1"]
        zk.nodes["/chaoskit/k1"] = (b"2", version + 1)

    zk.before_set = concurrent_write
    out = _run(zk, {"f": "read", "key": "k1", "value": None})
    assert out.type == "fail" and "changed" in (out.error or "")


def test_cas_loses_a_race_as_a_definite_failure() -> None:
    zk = FakeZk()
    _run(zk, {"f": "write", "key": "k1", "value": 1})
    zk.before_set = lambda: zk.nodes.update({"/chaoskit/k1": (b"1", 99)})
    assert _run(zk, {"f": "cas", "key": "k1", "value": [1, 2]}).type == "fail"


def test_local_and_sync_reads_do_not_write() -> None:
    zk = FakeZk()
    _run(zk, {"f": "write", "key": "k1", "value": 1})
    zk.calls.clear()
    assert _run(zk, {"f": "read", "key": "k1", "value": None}, "local").value == 1
    assert zk.calls == ["get"]
    zk.calls.clear()
    assert _run(zk, {"f": "read", "key": "k1", "value": None}, "sync").value == 1
    assert zk.calls == ["sync", "get"]


def test_connection_loss_is_unknown_and_no_session_is_a_failure() -> None:
    zk = FakeZk()
    zk.lose = True
    assert _run(zk, {"f": "write", "key": "k1", "value": 1}).type == "info"
    zk.lose, zk.connected = False, False
    assert _run(zk, {"f": "write", "key": "k1", "value": 1}).type == "fail"
    assert zk.calls == ["set"]


def test_bad_ops_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="no operation"):
        _run(FakeZk(), {"f": "add", "key": "k1", "value": 1})
    with pytest.raises(ConfigError, match="key"):
        _run(FakeZk(), {"f": "read", "key": "a/b", "value": None})
