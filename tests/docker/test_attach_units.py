"""Attaching to a compose project (chaoskit/runtimes/compose.py) without an engine.

Discovery runs on stand-in containers shaped like the SDK's; the adopted proxies live
on a real embedded proxy server on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from chaoskit.errors import ConfigError, SetupError
from chaoskit.proxy import ProxyClient, ProxyServer
from chaoskit.run.config import NemesisSpec, RunConfig
from chaoskit.run.settings import repeat_command
from chaoskit.runtimes.compose import (
    ComposeNetwork,
    find_services,
    natural_key,
    project_names,
    published_port,
)


class _Container:
    def __init__(self, service: str, role: str | None, ports: dict[str, str]) -> None:
        self.name = f"proj_{service}_1"
        self.labels = {"com.docker.compose.service": service}
        if role:
            self.labels["chaoskit.role"] = role
        bindings = {k: [{"HostIp": "127.0.0.1", "HostPort": v}] for k, v in ports.items()}
        # Stopped containers have no NetworkSettings ports: only the bindings.
        self.attrs: dict[str, Any] = {"HostConfig": {"PortBindings": bindings}}


def test_project_names_follow_the_rules_of_compose_v1_and_v2(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    assert project_names(Path("/x/My.Repo_1/docker-compose.yml")) == ["myrepo_1"]
    assert project_names(Path("/x/y/c.yml"), "Ck-Test") == ["ck-test"]
    # v1 keeps leading - and _, v2 drops them: both are tried, v1's first.
    assert project_names(Path("/x/_My Lab/docker-compose.yml")) == ["_mylab", "mylab"]
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "fromenv")
    assert project_names(Path("/x/y/c.yml")) == ["fromenv"]
    for unusable in ("...", "__"):
        with pytest.raises(ConfigError, match="--compose-project"):
            project_names(Path("/x/y/c.yml"), unusable)


def test_published_port_reads_the_bindings_and_needs_a_choice_when_several() -> None:
    one = _Container("n1", "node", {"8000/tcp": "8001"}).attrs
    assert published_port(one, None) == (8000, 8001)
    two = _Container("n1", "node", {"8000/tcp": "8001", "9000/tcp": "9001"}).attrs
    assert published_port(two, 9000) == (9000, 9001)
    with pytest.raises(SetupError, match=r"chaoskit\.port"):
        published_port(two, None)
    with pytest.raises(SetupError, match="not published"):
        published_port(one, 7000)


def test_find_services_splits_nodes_and_proxy_in_natural_order() -> None:
    containers = [
        _Container("n10", "node", {"8000/tcp": "8010"}),
        _Container("n2", "node", {"8000/tcp": "8002"}),
        _Container("proxy", "proxy", {"8474/tcp": "18474", "9012/tcp": "19012"}),
        _Container("db", None, {"5432/tcp": "5432"}),  # not ours: ignored
    ]
    nodes, proxy = find_services(containers, "proj")
    assert [(n.name, n.host_port) for n in nodes] == [("n2", 8002), ("n10", 8010)]
    assert (proxy.name, proxy.container_port, proxy.host_port) == ("proxy", 8474, 18474)
    assert natural_key("n2") < natural_key("n10")


def test_find_services_says_what_to_do_when_the_project_is_not_up() -> None:
    with pytest.raises(SetupError, match="docker-compose up -d"):
        find_services([], "proj")
    with pytest.raises(SetupError, match="exactly one fault proxy"):
        find_services([_Container("n1", "node", {"8000/tcp": "8001"})], "proj")


def test_compose_config_rejects_what_compose_nodes_cannot_do(tmp_path: Path) -> None:
    base = {"runtime": "compose", "compose_file": tmp_path / "docker-compose.yml"}
    RunConfig(**base).validate()  # type: ignore[arg-type]
    for bad, match in (
        ({"nemeses": [NemesisSpec("clock-bump")]}, "clock"),
        ({"network": "iptables"}, "iptables"),
        ({"options": {"bug": "x"}}, "-o"),
        ({"runtime": "local"}, "--runtime compose"),
    ):
        with pytest.raises(ConfigError, match=match):
            RunConfig(**{**base, **bad}).validate()  # type: ignore[arg-type]
    command = repeat_command(RunConfig(**base, compose_project="p"))  # type: ignore[arg-type]
    assert "--runtime compose --compose-file" in command and "--compose-project p" in command


@pytest.mark.integration
def test_adopted_proxies_are_healed_then_faulted_then_left_in_place() -> None:
    async def scenario() -> None:
        server = ProxyServer(host="127.0.0.1", port=0)
        await server.start()
        client = ProxyClient(server.url)
        try:
            ids = ["n1", "n2", "n3"]
            for a in ids:
                for b in ids:
                    if a != b:
                        await client.create_proxy(
                            f"{a}-{b}", listen="127.0.0.1:0", upstream="127.0.0.1:9"
                        )
            # What a crashed run leaves: a disabled link and a hang toxic.
            await client.update_proxy("n1-n2", enabled=False)
            await client.add_toxic(
                "n2-n3",
                "timeout",
                stream="upstream",
                name="hang_upstream",
                attributes={"timeout": 0},
            )
            network = ComposeNetwork(client, "r1")
            await network.adopt(ids)
            found = await client.proxies()
            assert all(p.enabled and not p.toxics for p in found.values())
            assert len(network.links()) == 6

            await network.cut([("n1", "n3")])
            assert not (await client.get_proxy("n1-n3")).enabled
            await network.close()
            found = await client.proxies()
            assert sorted(found) == sorted(f"{a}-{b}" for a in ids for b in ids if a != b)
            assert all(p.enabled for p in found.values())

            await client.delete_proxy("n3-n1")
            with pytest.raises(SetupError, match="n3-n1"):
                await ComposeNetwork(client, "r2").adopt(ids)
        finally:
            await client.aclose()
            await server.close()

    asyncio.run(scenario())
