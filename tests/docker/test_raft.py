"""A Raft cluster in containers: a leader emerges, and faults in both network modes move it.

Proxy mode: every peer message goes through the proxy container (a proxy per ordered
pair). iptables mode: peers dial each other by name and links are cut inside the
containers. Either way the controller observes through ports published on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.network.iptables import IptablesNetwork
from chaoskit.network.toxiproxy import ProxyNetwork
from chaoskit.proxy import ProxyClient
from chaoskit.runtimes.docker import DockerRuntime, Placement

from .conftest import wait_for

pytestmark = pytest.mark.docker
IDS = ["n1", "n2", "n3"]


def raft_target() -> Any:
    from chaoskit.targets.raft.target import RaftTarget

    target = RaftTarget()
    target.configure({})
    return target


async def leader_among(target: Any, placed: Iterable[Placement], exclude: str = "") -> str | None:
    """The node that says it leads and that every other answering node follows."""
    roles: dict[str, Any] = {}
    async with httpx.AsyncClient() as http:
        for p in placed:
            if p.id == exclude:
                continue
            try:
                roles[p.id] = await target.status(http, p.outside, 1.0)
            except Exception:  # noqa: BLE001 - a node that does not answer has no say
                continue
    leaders = [nid for nid, st in roles.items() if st.role == "leader"]
    if len(leaders) != 1 or len(roles) < 2:
        return None
    agree = all(st.leader == leaders[0] for st in roles.values())
    return leaders[0] if agree else None


async def elect(target: Any, placed: list[Placement], exclude: str = "") -> str:
    found: list[str] = []

    async def check() -> bool:
        leader = await leader_among(target, placed, exclude)
        if leader:
            found.append(leader)
        return leader is not None

    await wait_for(check, timeout=30.0, what=f"a leader (excluding '{exclude}')")
    return found[-1]


def isolate(node: str) -> list[tuple[str, str]]:
    return [(node, o) for o in IDS if o != node] + [(o, node) for o in IDS if o != node]


def test_raft_through_the_proxy_container(images: list[str], run_id: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        target = raft_target()
        rt = DockerRuntime(run_id, tmp_path)
        client: ProxyClient | None = None
        try:
            client = ProxyClient(await rt.start_proxy(seed=1))
            placed = rt.place_nodes(IDS)
            net = ProxyNetwork(client, run_id, listen_host="0.0.0.0")
            peers = rt.via_proxy(await net.setup([p.inside for p in placed]))
            for p in placed:
                await rt.launch(p.outside, target.launch(p.inside, peers[p.id]))
            first = await elect(target, placed)

            await net.cut(isolate(first))
            second = await elect(target, placed, exclude=first)
            assert second != first
            await net.heal()

            await rt.kill(second)
            third = await elect(target, placed, exclude=second)
            assert third != second
            await rt.start(second)
            await elect(target, placed)  # all three agree again
        finally:
            if client is not None:
                await client.aclose()
            await rt.close()

    asyncio.run(scenario())


def test_raft_with_iptables_faults(images: list[str], run_id: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        target = raft_target()
        rt = DockerRuntime(run_id, tmp_path, net_admin=True)
        net = IptablesNetwork(rt)
        try:
            placed = rt.place_nodes(IDS)
            for p in placed:
                await rt.launch(p.outside, target.launch(p.inside, rt.direct_peers(p.id)))
            first = await elect(target, placed)
            await net.cut(isolate(first))
            second = await elect(target, placed, exclude=first)
            assert second != first
            await net.heal()
            await elect(target, placed)
        finally:
            await rt.close()

    asyncio.run(scenario())
