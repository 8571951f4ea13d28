"""The client runner with plug-in clients against the real example service (tcpkv):
one client object per logical process, fresh ones on a node switch and after ``info``,
all closed at the end. Whole ``chaoskit run``s through the example's spec file are
tests/examples/test_your_service.py (the walkthrough's commands)."""

from __future__ import annotations

import asyncio
import random
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import chaoskit.workloads
from chaoskit.clients.runner import ClientRunner
from chaoskit.core.target import NodeInfo
from chaoskit.store.streams import Record, RunClock

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tcpkv"
IDS = ("n1", "n2", "n3")


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[list[NodeInfo]]:
    """Three tcpkv nodes whose peers dial each other directly (no faults needed here)."""
    ports = _free_ports(6)
    nodes = [
        NodeInfo(nid, i, "127.0.0.1", {"client": ports[i], "peer": ports[3 + i]}, tmp_path / nid)
        for i, nid in enumerate(IDS)
    ]
    procs = []
    for node in nodes:
        peers = ",".join(f"{n.id}=127.0.0.1:{n.ports['peer']}" for n in nodes if n.id != node.id)
        argv = [sys.executable, str(EXAMPLE / "tcpkv_server.py"), "--id", node.id,
                "--client", f"127.0.0.1:{node.port}", "--peer", f"127.0.0.1:{node.ports['peer']}",
                "--peers", peers]  # fmt: skip
        procs.append(subprocess.Popen(argv))
    try:
        yield nodes
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


class Recording:
    """Wraps the example client, logging every open (process, node) and close."""

    log: list[tuple[str, str]] = []

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def open(self, node: NodeInfo) -> None:
        await self.inner.open(node)
        self.log.append(("open", node.id))

    async def invoke(self, op: dict[str, Any]) -> Any:
        return await self.inner.invoke(op)

    async def close(self) -> None:
        self.log.append(("close", ""))
        await self.inner.close()


class Sink(list[Record]):
    def write(self, record: Record) -> None:
        self.append(record)


class NoLeaderView:
    def current_leader(self) -> str | None:
        return None


async def _wait_for_leader(target: Any, nodes: list[NodeInfo]) -> None:
    for _ in range(200):
        try:
            answers = [await target.status(None, n, 1.0) for n in nodes]
        except OSError:
            answers = []
        if answers and all(a.leader == "n1" for a in answers):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("tcpkv never agreed on n1")


async def test_one_client_per_process_reopened_on_switch(
    cluster: list[NodeInfo], tcpkv_target: Any
) -> None:
    await _wait_for_leader(tcpkv_target, cluster)
    Recording.log = []
    tcpkv_target.client = lambda cls=tcpkv_target.client: Recording(cls())
    history = Sink()
    async with httpx.AsyncClient() as http:
        runner = ClientRunner(
            target=tcpkv_target, nodes=cluster, workload=chaoskit.workloads.RegisterWorkload(),
            history=history, clock=RunClock(), http=http, concurrency=3,
            rng=random.Random(5), op_timeout=2.0, leader=NoLeaderView(), bound=1,
        )  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        await asyncio.sleep(1.5)
        stop.set()
        await task
    done = [r for r in history if r["type"] != "invoke"]
    assert Counter(r["type"] for r in done)["ok"] > 20
    # Leader-following clients start on a random node and are redirected to n1.
    assert {r["node"] for r in done if r["type"] == "ok" and r["process"] != 3} == {"n1"}
    refused = [r for r in done if r["type"] == "fail" and r["node"] != "n1"]
    assert refused, "no client started on a follower (seed 5 sends some there)"
    opens = [node for kind, node in Recording.log if kind == "open"]
    closes = sum(1 for kind, _ in Recording.log if kind == "close")
    assert closes == len(opens), "every client object opened is closed"
    # One object per process while it stays on a node: an open exactly where a process
    # sends its first op to a node (no info here: nothing else retires an object).
    assert not any(r["type"] == "info" for r in done)
    last: dict[int, str] = {}
    expected = []
    for rec in (r for r in history if r["type"] == "invoke"):
        if last.get(rec["process"]) != rec["node"]:
            expected.append(rec["node"])
        last[rec["process"]] = rec["node"]
    assert opens == expected and len(opens) < len(done) / 3


async def test_info_retires_the_client_object(cluster: list[NodeInfo], tcpkv_target: Any) -> None:
    await _wait_for_leader(tcpkv_target, cluster)
    Recording.log = []

    class Flaky(Recording):
        calls = 0

        async def invoke(self, op: dict[str, Any]) -> Any:
            Flaky.calls += 1
            if Flaky.calls % 5 == 0:
                raise ConnectionResetError("dropped after sending")
            return await super().invoke(op)

    tcpkv_target.client = lambda cls=tcpkv_target.client: Flaky(cls())
    history = Sink()
    async with httpx.AsyncClient() as http:
        runner = ClientRunner(
            target=tcpkv_target, nodes=cluster[:1], workload=chaoskit.workloads.SetWorkload(),
            history=history, clock=RunClock(), http=http, concurrency=1,
            rng=random.Random(1), op_timeout=2.0, leader=NoLeaderView(),
        )  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop))
        await asyncio.sleep(1.0)
        stop.set()
        await task
        final = await runner.final(5.0)
    infos = [r for r in history if r["type"] == "info"]
    assert infos and all("ConnectionResetError" in r["error"] for r in infos)
    opens = sum(1 for kind, _ in Recording.log if kind == "open")
    assert opens == len(infos) + 1 + 1  # a fresh object after each info, one for the final
    assert sum(1 for kind, _ in Recording.log if kind == "close") == opens
    assert final[0] is not None and final[0]["type"] == "ok"
    assert len({r["process"] for r in history}) == len(infos) + 2  # retired process numbers
