"""The ``Target`` classes: options, command lines, and HTTP answers mapped to outcomes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.core import plugins
from chaoskit.core.target import READY, NodeInfo, Outcome, Target, check_ports
from chaoskit.errors import ConfigError
from chaoskit.runtimes.ports import reserve_port
from chaoskit.targets.bully.target import BullyTarget
from chaoskit.targets.raft.target import RaftTarget

NODE = NodeInfo("n1", 0, "127.0.0.1", {"api": 7001}, Path("/tmp/d1"))


def test_both_satisfy_the_target_protocol() -> None:
    raft, bully = RaftTarget(), BullyTarget()
    assert isinstance(raft, Target) and isinstance(bully, Target)
    assert (raft.default_policy, bully.default_policy) == ("per-term", "strict")
    assert raft.proxy_mode == bully.proxy_mode == "pair"
    assert raft.workloads == ("none", "register", "kv", "set") and bully.workloads == ("none",)
    assert raft.election_timeout == pytest.approx(0.5)


def test_launch_passes_peers_options_and_a_seed_per_node() -> None:
    t = RaftTarget()
    t.configure({"bug": "stale-read", "seed": "10", "tick-ms": "20"})
    node = NodeInfo("n2", 1, "127.0.0.1", {"api": 7002}, Path("/d/n2"))
    launch = t.launch(
        node, {"n1": {"api": ("127.0.0.1", 9001)}, "n3": {"api": ("127.0.0.1", 9003)}}
    )
    argv = launch.argv
    assert argv[1:3] == ["-m", "chaoskit.targets.raft"]
    assert argv[argv.index("--listen") + 1] == "127.0.0.1:7002"
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--peer"] == [
        "n1=127.0.0.1:9001",
        "n3=127.0.0.1:9003",
    ]
    assert argv[argv.index("--seed") + 1] == "11"
    assert argv[argv.index("--bug") + 1] == "stale-read"
    assert t.election_timeout == pytest.approx(1.0)


def test_pre_vote_is_an_on_off_option_passed_as_a_flag() -> None:
    node = NodeInfo("n1", 0, "127.0.0.1", {"api": 7001}, Path("/d/n1"))
    for text, on in (("true", True), ("On", True), ("1", True), ("false", False), ("no", False)):
        t = RaftTarget()
        t.configure({"pre-vote": text})
        assert ("--pre-vote" in t.launch(node, {}).argv) is on, text


@pytest.mark.parametrize(
    ("target", "options", "message"),
    [
        (RaftTarget, {"bug": "stale-reed"}, "did you mean 'stale-read'"),
        (RaftTarget, {"tick": "5"}, "unknown option 'tick'"),
        (RaftTarget, {"tick-ms": "fast"}, "must be a number"),
        (RaftTarget, {"election-ticks": "0"}, "must be positive"),
        (BullyTarget, {"bug": "double-vote"}, "unknown bully bug"),
        (RaftTarget, {"pre-vote": "maybe"}, "must be true or false"),
        (BullyTarget, {"pre-vote": "true"}, "unknown option 'pre-vote'"),
    ],
)
def test_bad_options_are_config_errors(
    target: Callable[[], RaftTarget | BullyTarget], options: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        target().configure(options)


Responder = Callable[[httpx.Request], httpx.Response]


def _invoke(responder: Responder, op: dict[str, Any]) -> tuple[Outcome, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return responder(request)

    async def go() -> Outcome:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            return await RaftTarget().invoke(http, NODE, op, 1.0)

    return asyncio.run(go()), seen


def _answer(status: int, body: Any) -> Responder:
    return lambda request: httpx.Response(status, json=body)


def test_ops_become_the_right_requests() -> None:
    ops: list[tuple[dict[str, Any], str, str, Any]] = [
        ({"f": "read", "key": "a b"}, "GET", "/kv/a%20b", None),
        ({"f": "write", "key": "k", "value": 3}, "PUT", "/kv/k", {"value": 3}),
        ({"f": "cas", "key": "k", "value": [1, 2]}, "POST", "/kv/k/cas", {"from": 1, "to": 2}),
        ({"f": "put", "key": "k", "value": "v"}, "PUT", "/kv/k", {"value": "v"}),
        ({"f": "add", "key": "s", "value": 9}, "POST", "/set/s/add", {"element": 9}),
        ({"f": "read-set", "key": "s"}, "GET", "/set/s", None),
    ]
    for op, method, path, body in ops:
        _, (request,) = _invoke(_answer(200, {"ok": True}), op)
        assert (request.method, request.url.raw_path.decode()) == (method, path)
        assert (httpx.Response(200, content=request.content).json() if body else None) == body


def test_answers_become_outcomes() -> None:
    read = {"f": "read", "key": "k"}
    cas = {"f": "cas", "key": "k", "value": [1, 2]}
    assert _invoke(_answer(200, {"value": 5}), read)[0] == Outcome("ok", value=5)
    assert _invoke(_answer(200, {"elements": [1]}), {"f": "read-set", "key": "s"})[0].value == [1]
    miss = _invoke(_answer(409, {"error": "cas mismatch", "value": 7}), cas)[0]
    assert (miss.type, miss.value) == ("fail", 7)
    moved = _invoke(_answer(421, {"error": "not leader", "leader": "n3"}), read)[0]
    assert (moved.type, moved.redirect) == ("fail", "n3")
    assert _invoke(_answer(421, {"leader": None}), read)[0].redirect is None
    assert _invoke(_answer(504, {"error": "timeout"}), cas)[0].type == "info"
    assert _invoke(_answer(400, {"error": "bad"}), cas)[0].type == "fail"


def _raise(exc: Exception) -> Responder:
    def responder(request: httpx.Request) -> httpx.Response:
        raise exc

    return responder


def test_transport_errors_split_into_not_sent_and_unknown() -> None:
    write = {"f": "write", "key": "k", "value": 1}
    assert _invoke(_raise(httpx.ConnectError("refused")), write)[0].type == "fail"
    assert _invoke(_raise(httpx.ReadTimeout("slow")), write)[0].type == "info"
    assert _invoke(_raise(httpx.RemoteProtocolError("eof")), write)[0].type == "info"


def test_unknown_op_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no operation 'delete'"):
        _invoke(_answer(200, {}), {"f": "delete", "key": "k"})


@pytest.mark.integration
def test_launched_raft_cluster_answers_through_the_target(tmp_path: Path) -> None:
    """End to end: argv from ``launch``, then ``status`` and ``invoke`` on real nodes."""
    target = RaftTarget()
    target.configure({"seed": "5"})
    ports = [reserve_port() for _ in range(3)]
    nodes = [
        NodeInfo(f"n{i + 1}", i, "127.0.0.1", {"api": p}, tmp_path / f"n{i + 1}")
        for i, p in enumerate(ports)
    ]
    peers = {n.id: {"api": (n.host, n.port)} for n in nodes}
    procs = []
    try:
        for node in nodes:
            launch = target.launch(node, peers)
            procs.append(
                subprocess.Popen(
                    launch.argv,
                    env={**os.environ, **launch.env},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        asyncio.run(_exercise(target, nodes))
    finally:
        for proc in procs:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


async def _exercise(target: RaftTarget, nodes: list[NodeInfo]) -> None:
    async with httpx.AsyncClient() as http:
        leader = None
        for _ in range(1500):
            try:
                statuses = [await target.status(http, n, 0.5) for n in nodes]
            except httpx.HTTPError:
                statuses = []
            leaders = [n for n, s in zip(nodes, statuses, strict=False) if s.role == "leader"]
            if len(leaders) == 1 and all(s.leader == leaders[0].id for s in statuses):
                leader = leaders[0]
                break
            await asyncio.sleep(0.01)
        assert leader is not None, "no leader within 15 s"
        follower = next(n for n in nodes if n != leader)
        ok = await target.invoke(http, leader, {"f": "write", "key": "r", "value": 1}, 2.0)
        assert ok.type == "ok"
        cas = await target.invoke(http, leader, {"f": "cas", "key": "r", "value": [0, 5]}, 2.0)
        assert (cas.type, cas.value) == ("fail", 1)
        read = await target.invoke(http, leader, {"f": "read", "key": "r"}, 2.0)
        assert read == Outcome("ok", value=1)
        moved = await target.invoke(http, follower, {"f": "read", "key": "r"}, 2.0)
        assert (moved.type, moved.redirect) == ("fail", leader.id)
        added = await target.invoke(http, leader, {"f": "add", "key": "s", "value": "e"}, 2.0)
        assert added.type == "ok"
        got = await target.invoke(http, leader, {"f": "read-set", "key": "s"}, 2.0)
        assert got.value == ["e"]


@pytest.mark.parametrize("name", plugins.names("targets"))
def test_every_registered_target_meets_the_whole_contract(name: str) -> None:
    """Loaded as a run loads it (the contract check of core/plugins.py), each target
    declares ports chaoskit can allocate, and a readiness rule and settle time."""
    target = plugins.load("targets", name)  # raises ConfigError naming a missing member
    check_ports(target)
    assert target.ports[0].name and target.ready in READY and target.settle_s >= 0
    for length in (target.fault_s, target.heal_s):
        assert length is None or length > 0
