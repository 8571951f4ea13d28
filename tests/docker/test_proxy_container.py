"""The proxy container: per-pair proxies listen inside it, nodes dial it by name."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from chaoskit.core.target import Launch
from chaoskit.network.toxiproxy import ProxyNetwork
from chaoskit.proxy import ProxyClient
from chaoskit.runtimes.docker import DockerRuntime

from .conftest import wait_for

pytestmark = pytest.mark.docker

HTTP_SERVER = Launch([sys.executable, "-m", "http.server", "8000"])
FETCH = """
import sys, urllib.request
try:
    print(urllib.request.urlopen(f"http://{sys.argv[1]}/", timeout=3).status)
except Exception as exc:
    print(type(exc).__name__)
"""


def test_nodes_reach_peers_through_the_proxy_and_cuts_apply(
    images: list[str], run_id: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        rt = DockerRuntime(run_id, tmp_path)
        client: ProxyClient | None = None
        try:
            client = ProxyClient(await rt.start_proxy(seed=7))
            placed = rt.place_nodes(["n1", "n2"])
            net = ProxyNetwork(client, run_id, listen_host="0.0.0.0")
            peers = rt.via_proxy(await net.setup([p.inside for p in placed]))
            for p in placed:
                await rt.launch(p.outside, HTTP_SERVER)
            host, port = peers["n2"]["n1"]["api"]
            assert host == rt.proxy_name

            async def fetch() -> str:
                code, out = await rt.exec("n2", ["python", "-c", FETCH, f"{host}:{port}"])
                assert code == 0, out
                return out.strip()

            async def answers() -> bool:
                return await fetch() == "200"

            await wait_for(answers, what="n2 -> proxy -> n1")
            # Every request, not just one in a while: a proxy that drops some is broken.
            assert [await fetch() for _ in range(5)] == ["200"] * 5
            await net.cut([("n2", "n1")])
            assert await fetch() != "200"
            await net.heal()
            await wait_for(answers, what="n2 -> n1 after heal")
        finally:
            if client is not None:
                await client.aclose()
            await rt.close()
        assert "listening on 0.0.0.0:8474" in (tmp_path / "logs" / "proxy.log").read_text()

    asyncio.run(scenario())
