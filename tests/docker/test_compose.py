"""docker-compose.yml: the 5-node reference cluster and its proxy come up, elect, go down."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from ._compose import NODES, ComposeProject
from .conftest import wait_for

pytestmark = pytest.mark.docker


async def statuses(ports: dict[str, int]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(timeout=1.0) as http:
        for node, port in ports.items():
            try:
                found[node] = (await http.get(f"http://127.0.0.1:{port}/status")).json()
            except (httpx.HTTPError, ValueError):
                continue
    return found


async def agreed_leader(ports: dict[str, int], among: list[str]) -> str | None:
    """The leader every node of ``among`` names, when exactly one of them says it leads."""
    found = await statuses({n: ports[n] for n in among})
    leaders = [n for n, st in found.items() if st.get("role") == "leader"]
    if len(found) < len(among) or len(leaders) != 1:
        return None
    return leaders[0] if all(st.get("leader") == leaders[0] for st in found.values()) else None


def test_compose_cluster_elects_through_the_proxy_and_goes_down(
    client: Any, images: list[str], run_id: str, compose_cli: list[str]
) -> None:
    compose = ComposeProject(compose_cli, f"ck{run_id}")
    ports = compose.ports

    async def scenario() -> None:
        seen: list[str] = []

        async def elected(among: list[str]) -> bool:
            leader = await agreed_leader(ports, among)
            if leader:
                seen.append(leader)
            return leader is not None

        await wait_for(lambda: elected(NODES), timeout=60.0, what="a leader of all five")
        first = seen[-1]
        # Isolate the leader through the proxy API: the others must elect a new one,
        # which proves that peer traffic really goes through the proxy.
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{compose.proxy_port}") as http:
            for other in NODES:
                if other != first:
                    for name in (f"{first}-{other}", f"{other}-{first}"):
                        resp = await http.post(f"/proxies/{name}", json={"enabled": False})
                        assert resp.status_code == 200, resp.text
        rest = [n for n in NODES if n != first]
        await wait_for(lambda: elected(rest), timeout=30.0, what="a new leader of the rest")
        assert seen[-1] != first

    try:
        compose("up", "-d", "--no-build")
        asyncio.run(scenario())
    finally:
        compose("down", "-v", "--remove-orphans")
    assert client.containers.list(all=True, filters=compose.label_filter) == []
    assert client.networks.list(filters=compose.label_filter) == []
