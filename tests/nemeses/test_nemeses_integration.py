"""Nemeses against the real parts: the embedded fault proxy and local processes.

A partition is checked by what actually gets through each proxied link (an echo
server per node), not by what the nemesis says it did; kills and pauses by the
state of real child processes.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from chaoskit import nemeses
from chaoskit.core.nemesis import NemesisContext
from chaoskit.core.target import Launch, NodeInfo
from chaoskit.network.toxiproxy import ProxyNetwork
from chaoskit.proxy import ProxyClient, ProxyServer
from chaoskit.runtimes.local import LocalRuntime
from chaoskit.scenario.targets import resolve
from tests.support.eventually import async_eventually

pytestmark = pytest.mark.integration

Link = tuple[str, str]


class NoLeader:
    """The leader stream when nobody leads (the processes here are no cluster)."""

    current: str | None = None
    previous: str | None = None


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while line := await reader.readline():
            writer.write(line)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _passes(port: int, timeout: float) -> bool:
    """True when a line sent through the link comes back within ``timeout``."""
    writer: asyncio.StreamWriter | None = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(b"ping\n")
        await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout) == b"ping\n"
    except (OSError, TimeoutError):
        return False
    finally:
        if writer is not None:
            writer.close()


async def _open_links(peers: dict[str, dict[str, dict[str, tuple[str, int]]]]) -> set[Link]:
    links = [(src, dst) for src, row in peers.items() for dst in row]
    ok = await asyncio.gather(*(_passes(peers[s][d]["api"][1], 1.5) for s, d in links))
    return {link for link, passed in zip(links, ok, strict=True) if passed}


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("partition", {"mode": "cut"}),
        ("partition", {"mode": "hang"}),
        ("partition-oneway", {}),
        ("partition-majorities-ring", {}),
        ("partition-bridge", {}),
        ("isolate", {"direction": "out"}),
    ],
)
def test_partitions_cut_exactly_their_links_through_the_proxy(
    tmp_path: Path, name: str, options: dict[str, str]
) -> None:
    async def main() -> None:
        servers = [await asyncio.start_server(_echo, "127.0.0.1", 0) for _ in range(5)]
        nodes = [
            NodeInfo(f"n{i}", i, "127.0.0.1", {"api": s.sockets[0].getsockname()[1]}, tmp_path)
            for i, s in enumerate(servers, 1)
        ]
        try:
            async with ProxyServer(port=0, seed=1) as proxy, ProxyClient(proxy.url) as client:
                network = ProxyNetwork(client, "nemtest")
                peers = await network.setup(nodes)
                everything = set(network.links())
                assert await _open_links(peers) == everything
                ctx = NemesisContext(
                    nodes=nodes,
                    rng=random.Random(3),
                    runtime=cast(Any, None),
                    network=network,
                )
                nemesis: Any = nemeses.BUILTINS[name]()
                nemesis.configure(options)
                targets = resolve(nemesis.default_targets, ctx.ids, ctx.rng, NoLeader())
                fault = await nemesis.start(ctx, list(targets.nodes))
                assert fault is not None and fault.cut
                assert await _open_links(peers) == everything - set(fault.cut)
                await nemesis.stop(ctx, fault)
                assert await _open_links(peers) == everything
                await network.close()
        finally:
            for s in servers:
                s.close()
                await s.wait_closed()

    asyncio.run(main())


def _state(pid: int) -> str:
    """The process state letter from /proc (``T`` when stopped)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0]


def test_kill_and_pause_act_on_real_processes(tmp_path: Path) -> None:
    async def main() -> None:
        runtime = LocalRuntime("nemtest", tmp_path / "logs")
        (tmp_path / "logs").mkdir()
        nodes = [NodeInfo(f"n{i}", i, "127.0.0.1", {"api": 0}, tmp_path) for i in range(1, 4)]
        argv = [sys.executable, "-c", "import time; time.sleep(120)"]
        try:
            for node in nodes:
                await runtime.launch(node, Launch(argv=argv))
            ctx = NemesisContext(
                nodes=nodes,
                rng=random.Random(1),
                runtime=runtime,
                network=cast(Any, None),
            )
            kill = nemeses.Kill()
            fault = await kill.start(ctx, resolve("minority", ctx.ids, ctx.rng, NoLeader()).nodes)
            assert fault is not None
            (victim,) = fault.down
            await async_eventually(lambda: not runtime.is_running(victim), "the victim down")
            assert all(runtime.is_running(n.id) for n in nodes if n.id != victim)
            await kill.stop(ctx, fault)
            assert runtime.is_running(victim)

            pause = nemeses.PauseLeader()
            targets = resolve(pause.default_targets, ctx.ids, ctx.rng, NoLeader())
            assert targets.fallback is True  # nobody leads: a random node instead
            fault = await pause.start(ctx, targets.nodes)
            assert fault is not None
            (victim,) = fault.down
            pid = runtime.pid(victim)
            assert pid is not None
            await async_eventually(lambda: _state(pid) == "T", "the victim stopped")
            await pause.stop(ctx, fault)
            await async_eventually(lambda: _state(pid) != "T", "the victim running again")
        finally:
            await runtime.close()

    asyncio.run(main())
