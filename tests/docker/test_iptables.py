"""The iptables network mode cuts directed links for real, and heals them."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import pytest

from chaoskit.core.target import Launch
from chaoskit.errors import ConfigError
from chaoskit.network.iptables import IptablesNetwork
from chaoskit.runtimes.docker import DockerRuntime

from .conftest import wait_for

pytestmark = pytest.mark.docker

HTTP_SERVER = Launch([sys.executable, "-m", "http.server", "8000"])
PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 8000), timeout=2).close()
    print("connected")
except ConnectionRefusedError:
    print("refused")
except OSError:
    print("timeout")
"""


async def dial(rt: DockerRuntime, src: str, dst: str) -> str:
    """What happens when ``src`` opens a TCP connection to ``dst`` (from inside src)."""
    code, out = await rt.exec(src, ["python", "-c", PROBE, rt.container_name(dst)])
    assert code == 0, out
    return out.strip()


async def controller_reaches(rt: DockerRuntime, node: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            return (await http.get(rt.placement(node).outside.url)).status_code == 200
    except httpx.HTTPError:
        return False


def test_cut_and_hang_are_directed_real_and_healed(
    images: list[str], run_id: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        rt = DockerRuntime(run_id, tmp_path, net_admin=True)
        net = IptablesNetwork(rt)
        try:
            for p in rt.place_nodes(["n1", "n2", "n3"]):
                await rt.launch(p.outside, HTTP_SERVER)
            for node in ("n1", "n2", "n3"):
                await wait_for(lambda n=node: controller_reaches(rt, n), what=f"{node} up")
            assert await dial(rt, "n2", "n1") == "connected"
            assert len(net.links()) == 6

            await net.cut([("n2", "n1")])
            assert await dial(rt, "n2", "n1") == "refused"  # the cut direction
            assert await dial(rt, "n1", "n2") == "connected"  # the other one
            assert await dial(rt, "n3", "n1") == "connected"  # other peers
            assert await controller_reaches(rt, "n1")  # the observer's path
            assert net.faulty_links() == [("n2", "n1")]

            await net.cut([("n2", "n1")], mode="hang")
            assert await dial(rt, "n2", "n1") == "timeout"

            await net.heal()
            assert await dial(rt, "n2", "n1") == "connected"
            assert net.faulty_links() == []
            _, rules = await rt.exec("n1", ["iptables", "-S", "INPUT"])
            assert "-j DROP" not in rules and "REJECT" not in rules
        finally:
            await rt.close()

    asyncio.run(scenario())


def test_faults_survive_a_restart_and_apply_to_a_paused_node(
    images: list[str], run_id: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        rt = DockerRuntime(run_id, tmp_path, net_admin=True)
        net = IptablesNetwork(rt)
        try:
            for p in rt.place_nodes(["n1", "n2"]):
                await rt.launch(p.outside, HTTP_SERVER)
            await wait_for(lambda: controller_reaches(rt, "n1"), what="n1 up")

            await net.cut([("n2", "n1")])
            await rt.kill("n1")
            await rt.start("n1")  # a fresh network namespace: the rule is put back
            await wait_for(lambda: controller_reaches(rt, "n1"), what="n1 back")
            assert await dial(rt, "n2", "n1") == "refused"

            await rt.pause("n1")
            await net.heal()  # applied beside the frozen container, without waking it
            assert rt.is_running("n1")
            await rt.resume("n1")
            assert await dial(rt, "n2", "n1") == "connected"

            await net.loss([("n2", "n1")], 1.0)  # every packet: as good as a hang
            assert await dial(rt, "n2", "n1") == "timeout"
            await net.heal_all()
            assert await dial(rt, "n2", "n1") == "connected"
        finally:
            await rt.close()

    asyncio.run(scenario())


def test_latency_asks_for_the_proxy_mode(images: list[str], run_id: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        rt = DockerRuntime(run_id, tmp_path, net_admin=True)
        net = IptablesNetwork(rt)
        try:
            rt.place_nodes(["n1", "n2"])
            with pytest.raises(ConfigError, match=r"proxy network mode.*no netem"):
                await net.delay([("n1", "n2")], 100, 10)
            with pytest.raises(ConfigError, match="packet loss"):
                await net.loss([("n1", "n2")], 1.5)
        finally:
            await rt.close()

    asyncio.run(scenario())
