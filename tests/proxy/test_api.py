"""The HTTP API through ``ProxyClient`` and raw HTTP: statuses, bodies, bad input."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from chaoskit.errors import ProxyError
from chaoskit.proxy import ProxyClient

pytestmark = pytest.mark.integration


async def raw(url: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        return await http.request(method, path, **kwargs)


async def expect_error(coro: Any, status: int, text: str) -> None:
    with pytest.raises(ProxyError) as caught:
        await coro
    assert caught.value.status == status
    assert text in str(caught.value)


def test_proxy_lifecycle_and_errors(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (server, client):
            assert (await client.version()).startswith("2.")
            created = await client.create_proxy("a", "127.0.0.1:0", f"127.0.0.1:{echo}")
            assert created.enabled and created.listen_port > 0
            assert created.listen == f"127.0.0.1:{created.listen_port}"
            assert (await client.proxies())["a"] == created
            assert await client.get_proxy("a") == created
            await expect_error(
                client.create_proxy("a", "127.0.0.1:0", "127.0.0.1:1"), 409, "proxy already exists"
            )
            await expect_error(client.get_proxy("nope"), 404, "proxy not found")
            await expect_error(client.update_proxy("nope", enabled=False), 404, "proxy not found")
            await expect_error(client.delete_proxy("nope"), 404, "proxy not found")
            disabled = await client.update_proxy("a", enabled=False)
            assert not disabled.enabled and disabled.listen == created.listen
            await client.delete_proxy("a")
            assert await client.proxies() == {}
            response = await raw(server.url, "POST", "/proxies", json={"name": "b"})
            assert response.status_code == 400
            assert response.json() == {"error": "missing required field: upstream", "status": 400}

    kit.run(scenario())


def test_create_answers_201_and_delete_204(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.proxy() as (server, _):
            body = {"name": "a", "upstream": "127.0.0.1:9"}
            created = await raw(server.url, "POST", "/proxies", json=body)
            assert created.status_code == 201
            assert set(created.json()) == {"name", "listen", "upstream", "enabled", "toxics"}
            assert (await raw(server.url, "DELETE", "/proxies/a")).status_code == 204
            assert (await raw(server.url, "POST", "/reset")).status_code == 204

    kit.run(scenario())


def test_moving_a_proxy_rebinds_it(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (_, client):
            first = await client.create_proxy("a", "127.0.0.1:0", f"127.0.0.1:{echo}")
            moved = await client.update_proxy("a", listen="127.0.0.1:0")
            assert moved.listen_port != first.listen_port
            with pytest.raises(ConnectionRefusedError):
                await kit.connect(first.listen_port)
            reader, writer = await kit.connect(moved.listen_port)
            await kit.round_trip(reader, writer)
            await kit.close(writer)

    kit.run(scenario())


def test_toxic_endpoints(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.proxy() as (server, client):
            await client.create_proxy("a", "127.0.0.1:0", "127.0.0.1:9")
            toxic = await client.add_toxic("a", "latency", attributes={"latency": 10})
            assert (toxic.name, toxic.stream, toxic.toxicity) == (
                "latency_downstream",
                "downstream",
                1.0,
            )
            assert toxic.attributes == {"latency": 10, "jitter": 0}
            named = await client.add_toxic(
                "a", "timeout", stream="upstream", name="hang", attributes={"timeout": 0}
            )
            assert [t.name for t in await client.toxics("a")] == ["hang", "latency_downstream"]
            assert await client.get_toxic("a", "hang") == named
            updated = await client.update_toxic("a", "latency_downstream", attributes={"jitter": 3})
            assert updated.attributes == {"latency": 10, "jitter": 3}
            assert (await client.get_proxy("a")).toxics[1] == updated
            await expect_error(client.add_toxic("a", "latency"), 409, "toxic already exists")
            await expect_error(client.add_toxic("a", "nope"), 400, "invalid toxic type")
            await expect_error(client.add_toxic("b", "latency"), 404, "proxy not found")
            await expect_error(client.get_toxic("a", "zzz"), 404, "toxic not found")
            await expect_error(client.remove_toxic("a", "zzz"), 404, "toxic not found")
            await expect_error(
                client.update_toxic("a", "hang", attributes={"timeout": -5}), 400, "negative"
            )
            await expect_error(
                client.add_toxic("a", "latency", name="neg", attributes={"latency": -1}),
                400,
                "must not be negative",
            )
            await client.remove_toxic("a", "hang")
            assert [t.name for t in await client.toxics("a")] == ["latency_downstream"]
            response = await raw(server.url, "DELETE", "/proxies/a/toxics/latency_downstream")
            assert response.status_code == 204

    kit.run(scenario())


def test_reset_enables_everything_and_drops_every_toxic(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.proxy() as (_, client):
            await client.create_proxy("a", "127.0.0.1:0", "127.0.0.1:9")
            await client.create_proxy("b", "127.0.0.1:0", "127.0.0.1:9", enabled=False)
            await client.add_toxic("a", "latency")
            await client.update_proxy("a", enabled=False)
            await client.reset()
            proxies = await client.proxies()
            assert all(p.enabled and not p.toxics for p in proxies.values())

    kit.run(scenario())


def test_populate_creates_keeps_and_replaces(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with kit.proxy() as (server, client):
            made = await client.populate(
                [
                    {"name": "a", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"},
                    {"name": "b", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"},
                ]
            )
            assert [p.name for p in made] == ["a", "b"]
            await client.add_toxic("a", "latency")
            a, b = made
            again = await client.populate(
                [
                    {"name": "a", "listen": a.listen, "upstream": "127.0.0.1:9"},
                    {"name": "b", "listen": b.listen, "upstream": "127.0.0.1:10"},
                ]
            )
            assert again[0].toxics  # same listen and upstream: kept as it was
            assert again[1].upstream == "127.0.0.1:10" and again[1].listen == b.listen
            response = await raw(server.url, "POST", "/populate", json=[])
            assert response.status_code == 201 and response.json() == {"proxies": []}

    kit.run(scenario())


def as_json(content: bytes) -> dict[str, Any]:
    """Raw bytes declared as JSON (anything else is refused before it is parsed)."""
    return {"content": content, "headers": {"Content-Type": "application/json"}}


def snapshot(url: str) -> Any:
    return httpx.get(f"{url}/proxies").json()


def test_bad_input_is_a_clear_4xx_and_changes_nothing(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            busy = taken.getsockname()[1]
            async with kit.proxy() as (server, client):
                await client.create_proxy("a", "127.0.0.1:0", "127.0.0.1:9")
                await client.add_toxic("a", "latency", attributes={"latency": 5})
                before = await asyncio.to_thread(snapshot, server.url)
                cases: list[tuple[str, str, dict[str, Any], int, str]] = [
                    ("POST", "/proxies/a/toxics", {"json": {"type": "x"}}, 400, "invalid toxic"),
                    (
                        "POST",
                        "/proxies/a/toxics",
                        {"json": {"type": "latency", "name": "n", "attributes": {"latency": -3}}},
                        400,
                        "negative",
                    ),
                    ("POST", "/proxies", as_json(b"{not json"), 400, "bad request body"),
                    ("POST", "/proxies", as_json(b""), 400, "bad request body"),
                    ("POST", "/proxies", as_json(b"\xff\xfe"), 400, "bad request body"),
                    ("POST", "/proxies", as_json(b"[" * 100000), 400, "bad request body"),
                    ("POST", "/proxies", as_json(b"x" * 10_000_000), 413, "too large"),
                    (
                        "POST",
                        "/proxies",
                        {"json": {"name": "c", "listen": f"127.0.0.1:{busy}", "upstream": "h:1"}},
                        409,
                        "already in use",
                    ),
                    (
                        "POST",
                        "/populate",
                        {
                            "json": [
                                {"name": "d", "upstream": "127.0.0.1:9"},
                                {"name": "e", "listen": f"127.0.0.1:{busy}", "upstream": "h:1"},
                            ]
                        },
                        409,
                        "already in use",
                    ),
                    (
                        "POST",
                        "/proxies/a",
                        {"json": {"listen": f"127.0.0.1:{busy}"}},
                        409,
                        "in use",
                    ),
                    ("POST", "/proxies/a", {"json": {"enabled": 1}}, 400, "true or false"),
                    ("GET", "/nowhere", {}, 404, "not found"),
                    ("PUT", "/proxies", {}, 405, "method not allowed"),
                    ("GET", "/proxies", {"headers": {"User-Agent": "Mozilla/5.0"}}, 403, "agent"),
                ]
                for method, path, kwargs, status, text in cases:
                    response = await raw(server.url, method, path, **kwargs)
                    assert response.status_code == status, (path, response.text)
                    body = response.json()
                    assert body["status"] == status and text in body["error"], body
                    assert await asyncio.to_thread(snapshot, server.url) == before, path

    kit.run(scenario())


def test_client_reports_an_unreachable_server() -> None:
    async def scenario() -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        async with ProxyClient(f"http://127.0.0.1:{port}", timeout=2) as client:
            with pytest.raises(ProxyError, match="unreachable") as caught:
                await client.version()
            assert caught.value.status is None

    asyncio.run(scenario())
