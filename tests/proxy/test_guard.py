"""The gate of the fault API over real sockets: token, Host, Origin, JSON, listen and
upstream addresses, client networks, the audit of every change, drift."""

from __future__ import annotations

import asyncio
import secrets
import socket
from typing import Any

import httpx
import pytest

from chaoskit.errors import ConfigError, ProxyError
from chaoskit.proxy import ApiChange, Policy, ProxyClient, ProxyServer
from chaoskit.proxy._watch import FaultApiWatch

pytestmark = pytest.mark.integration

TOKEN = secrets.token_urlsafe(32)


async def send(
    url: str, method: str, path: str, token: str | None = TOKEN, **kwargs: Any
) -> httpx.Response:
    headers = dict(kwargs.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=url, timeout=30, headers=headers) as http:
        return await http.request(method, path, **kwargs)


async def state(url: str) -> Any:
    return (await send(url, "GET", "/proxies")).json()


def test_token_is_required_on_every_request(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        changes: list[ApiChange] = []
        async with (
            ProxyServer(port=0, token=TOKEN, on_change=changes.append) as server,
            ProxyClient(server.url, token=TOKEN) as client,
        ):
            await client.create_proxy("a", "127.0.0.1:0", "127.0.0.1:9")
            before = await state(server.url)
            for token in (None, "x" * 43, TOKEN[:-1], TOKEN + "x", TOKEN.upper()):
                for method, path, body in (
                    ("GET", "/proxies", None),
                    ("GET", "/version", None),
                    ("POST", "/proxies/a", {"enabled": False}),
                    ("POST", "/reset", None),
                    ("DELETE", "/proxies/a", None),
                ):
                    response = await send(server.url, method, path, token=token, json=body)
                    assert response.status_code == 401, (token, method, path)
                    assert response.headers["WWW-Authenticate"].startswith("Bearer")
                    assert "token" in response.json()["error"]
            for header in ("Basic eA==", "Bearer", f"Token {TOKEN}"):
                odd = await send(
                    server.url, "GET", "/proxies", token=None, headers={"Authorization": header}
                )
                assert odd.status_code == 401, header
            assert await state(server.url) == before
            assert (await client.get_proxy("a")).enabled
            refused = [c for c in changes if c.status == 401]
            assert len(refused) == 5 * 3 and not any(c.authenticated for c in refused)
            assert refused[0].peer is not None and refused[0].peer.startswith("127.0.0.1:")
        with pytest.raises(ConfigError, match="at least 16"):
            ProxyServer(port=0, token="short")

    kit.run(scenario())


def test_browser_and_rebinding_requests_are_refused(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with ProxyServer(port=0, token=TOKEN) as server:
            url = server.url
            ok = await send(url, "POST", "/proxies", json={"name": "a", "upstream": "127.0.0.1:9"})
            assert ok.status_code == 201
            port = server.port
            before = await state(url)
            disable = {"json": {"enabled": False}}
            cases: list[tuple[dict[str, Any], int, str]] = [
                ({"headers": {"Host": f"evil.example:{port}"}, **disable}, 421, "evil.example"),
                ({"headers": {"Host": f"127.0.0.1.nip.io:{port}"}, **disable}, 421, "not served"),
                ({"headers": {"Origin": "http://evil.example"}, **disable}, 403, "Origin"),
                ({"headers": {"Origin": f"http://127.0.0.1:{port}"}, **disable}, 403, "Origin"),
                ({"headers": {"User-Agent": "Mozilla/5.0"}, **disable}, 403, "agent"),
                (
                    {"content": b'{"enabled": false}', "headers": {"Content-Type": "text/plain"}},
                    415,
                    "application/json",
                ),
                (
                    {
                        "content": b"enabled=false",
                        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
                    },
                    415,
                    "application/json",
                ),
                ({"content": b'{"enabled": false}'}, 415, "application/json"),  # no type
            ]
            for kwargs, status, text in cases:
                response = await send(url, "POST", "/proxies/a", **kwargs)
                assert response.status_code == status, (kwargs, response.text)
                assert text in response.json()["error"]
                assert await state(url) == before
            # What clients really send passes: a JSON type with a charset, a body-less reset.
            typed = await send(
                url,
                "POST",
                "/proxies/a",
                content=b'{"enabled": false}',
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
            assert typed.status_code == 200 and typed.json()["enabled"] is False
            assert (await send(url, "POST", "/reset")).status_code == 204
            for host in ("localhost", "127.0.0.2", "[::1]", "LOCALHOST"):
                response = await send(url, "GET", "/version", headers={"Host": f"{host}:1"})
                assert response.status_code == 200, host

    kit.run(scenario())


def test_allowed_hosts_and_origins_are_accepted(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        policy = Policy.build(allow_hosts=["proxy.test"], allow_origins=["http://ui.test"])
        async with ProxyServer(port=0, policy=policy) as server:
            headers = {"Host": "proxy.test:8474", "Origin": "http://ui.test"}
            response = await send(server.url, "GET", "/proxies", token=None, headers=headers)
            assert response.status_code == 200

    kit.run(scenario())


def test_listen_and_upstream_rules(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        async with ProxyServer(port=0, token=TOKEN) as server:
            url = server.url
            made = await send(url, "POST", "/proxies", json={"name": "a", "upstream": "h:1"})
            assert made.status_code == 201
            before = await state(url)
            cases: list[tuple[str, str, Any]] = [
                ("POST", "/proxies", {"name": "b", "listen": "0.0.0.0:0", "upstream": "h:1"}),
                ("POST", "/proxies", {"name": "b", "listen": "[::]:0", "upstream": "h:1"}),
                ("POST", "/proxies", {"name": "b", "upstream": "169.254.169.254:80"}),
                ("POST", "/proxies", {"name": "b", "upstream": "[fe80::1]:80"}),
                ("POST", "/proxies/a", {"listen": "0.0.0.0:0"}),
                ("POST", "/proxies/a", {"upstream": "169.254.169.254:80"}),
                (
                    "POST",
                    "/populate",
                    [
                        {"name": "c", "upstream": "127.0.0.1:9"},
                        {"name": "d", "listen": "0.0.0.0:0", "upstream": "127.0.0.1:9"},
                    ],
                ),
            ]
            for method, path, body in cases:
                response = await send(url, method, path, json=body)
                assert response.status_code == 403, (path, body, response.text)
                assert (
                    "not allowed" in response.json()["error"]
                    or "not loopback" in (response.json()["error"])
                )
                assert await state(url) == before, body
        with pytest.raises(ConfigError, match="not loopback"):
            ProxyServer(host="0.0.0.0", port=0)
        remote = Policy(allow_remote_listen=True, allow_metadata_upstream=True)
        async with ProxyServer(host="0.0.0.0", port=0, policy=remote) as server:
            body = {"name": "m", "listen": "0.0.0.0:0", "upstream": "169.254.169.254:80"}
            response = await send(f"http://127.0.0.1:{server.port}", "POST", "/proxies", json=body)
            assert response.status_code == 201

    kit.run(scenario())


def test_a_name_resolving_to_metadata_is_never_dialled(kit, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The name is allowed when the proxy is made (it may not resolve yet: Docker), so
    its address is checked when connecting; the resolver is faked to answer what a
    cloud's DNS answers for metadata.google.internal."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        real = loop.getaddrinfo
        dialled: list[Any] = []

        async def fake_getaddrinfo(host: Any, port: Any, **kwargs: Any) -> Any:
            answers = {"metadata.test": "169.254.169.254", "echo.test": "127.0.0.1"}
            if host in answers:
                return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
            return await real(host, port, **kwargs)

        async def spy(*args: Any, **kwargs: Any) -> Any:
            dialled.append(args[1:3])
            return await real_connect(*args, **kwargs)

        monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
        real_connect = loop.create_connection
        async with ProxyServer(port=0, token=TOKEN) as server, kit.upstream() as echo:
            monkeypatch.setattr(loop, "create_connection", spy)
            async with ProxyClient(server.url, token=TOKEN) as client:
                made = await client.create_proxy("m", "127.0.0.1:0", "metadata.test:80")
                reader, writer = await kit.connect(made.listen_port)
                assert await kit.closed_by_peer(reader) == "reset"
                await kit.close(writer)
                listens = {made.listen_port, server.port}
                # The proxy dialled nothing (the test's own connect is left out).
                assert [d for d in dialled if d[1] not in listens] == []
                made = await client.create_proxy("e", "127.0.0.1:0", f"echo.test:{echo}")
                reader, writer = await kit.connect(made.listen_port)
                await kit.round_trip(reader, writer)  # an allowed name still works
                await kit.close(writer)
                listens.add(made.listen_port)
                # The address that was checked is dialled, not the name again.
                assert [d for d in dialled if d[1] not in listens] == [("127.0.0.1", echo)]

    kit.run(scenario())


def test_client_networks_are_checked_before_anything(kit) -> None:  # type: ignore[no-untyped-def]
    """A peer outside ``allow_clients`` is refused even with the token: connections
    from 127.0.0.2 stand in for a node on the run network, 127.0.0.1 for the gateway."""

    async def scenario() -> None:
        policy = Policy.build(allow_clients=["127.0.0.1/32"])
        async with ProxyServer(port=0, token=TOKEN, policy=policy) as server:
            for source, status in (("127.0.0.2", 403), ("127.0.0.1", 200)):
                transport = httpx.AsyncHTTPTransport(local_address=source)
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with httpx.AsyncClient(transport=transport, headers=headers) as http:
                    response = await http.get(f"{server.url}/proxies")
                assert response.status_code == status, source
                if status == 403:
                    assert "127.0.0.2" in response.json()["error"]

    kit.run(scenario())


def test_someone_else_with_the_token_is_recorded(kit) -> None:  # type: ignore[no-untyped-def]
    """The controller's own changes stay out of the audit; a change by another client,
    even one holding the run's token, is written as an ``api`` record."""

    async def scenario() -> None:
        written: list[dict[str, Any]] = []
        watch = FaultApiWatch(written.append, lambda: 5, prefix="ck-r-")
        server = watch.server(seed=1)
        async with server, kit.upstream() as echo:
            controller = watch.client(server.url, "hook")
            await controller.create_proxy("ck-r-a", "127.0.0.1:0", f"127.0.0.1:{echo}")
            await controller.update_proxy("ck-r-a", enabled=False)
            await controller.update_proxy("ck-r-a", enabled=True)
            assert written == []
            async with ProxyClient(server.url, token=watch.token) as other:
                await other.update_proxy("ck-r-a", enabled=False)
            response = await send(
                server.url, "POST", "/proxies/ck-r-a/toxics", token=None, json={"type": "latency"}
            )
            assert response.status_code == 401
            with pytest.raises(ProxyError) as caught:  # upstreams: loopback only in a run
                await controller.create_proxy("ck-r-b", "127.0.0.1:0", "10.0.0.1:80")
            assert caught.value.status == 403
            await controller.aclose()
        watch.close()
        assert [(r["type"], r["status"], r["authenticated"]) for r in written] == [
            ("api", 200, True),
            ("api", 401, False),
        ]
        assert written[0]["body"] == {"enabled": False}
        assert written[0]["path"] == "/proxies/ck-r-a" and 0 <= written[0]["time"] <= 5
        assert written[0]["client"] != controller.client_id
        assert written[1]["body"] == {"type": "latency"}

    kit.run(scenario())


def test_changes_are_pulled_from_a_proxy_elsewhere(kit) -> None:  # type: ignore[no-untyped-def]
    """What the controller does with a proxy container: no hook, it pulls the log."""

    async def scenario() -> None:
        written: list[dict[str, Any]] = []
        watch = FaultApiWatch(written.append, lambda: 10**12)
        async with ProxyServer(port=0, token=watch.token) as server:
            controller = watch.client(server.url, "pull")
            await controller.create_proxy("a", "127.0.0.1:0", "127.0.0.1:9")
            async with ProxyClient(server.url, token=watch.token) as other:
                await other.add_toxic("a", "timeout", attributes={"timeout": 0})
                await other.delete_proxy("a")
            await watch.check()
            await watch.check()  # nothing new: nothing written twice
            changes, last, dropped = await controller.changes()
            assert (len(changes), last, dropped) == (3, 3, 0)
            assert (await controller.changes(after=3))[0] == []
            response = await send(server.url, "GET", "/chaoskit/changes?after=x", token=watch.token)
            assert response.status_code == 400
            assert (
                await send(server.url, "GET", "/chaoskit/changes", token=None)
            ).status_code == 401
            await controller.aclose()
        assert [(r["method"], r["path"]) for r in written] == [
            ("POST", "/proxies/a/toxics"),
            ("DELETE", "/proxies/a"),
        ]
        assert all(0 < r["time"] <= 10**12 for r in written)

    kit.run(scenario())


def test_drift_of_an_unguarded_proxy_is_recorded_once(kit) -> None:  # type: ignore[no-untyped-def]
    """An external Toxiproxy stand-in (no token): the state is compared, not the history."""

    async def scenario() -> None:
        written: list[dict[str, Any]] = []
        watch = FaultApiWatch(written.append, lambda: 1, prefix="ck-r-")
        async with ProxyServer(port=0) as server:
            controller = watch.client(server.url, "drift")
            await controller.create_proxy("ck-r-a", "127.0.0.1:0", "127.0.0.1:9")
            await controller.create_proxy("ck-r-b", "127.0.0.1:0", "127.0.0.1:9")
            await controller.add_toxic("ck-r-a", "latency", name="slow", attributes={"latency": 5})
            await watch.check()
            assert written == []
            async with ProxyClient(server.url) as other:
                await other.update_proxy("ck-r-a", enabled=False)
                await other.remove_toxic("ck-r-a", "slow")
                await other.delete_proxy("ck-r-b")
                await other.create_proxy("ck-r-c", "127.0.0.1:0", "127.0.0.1:9")
            await watch.check()
            await watch.check()
            await controller.aclose()
        assert [(r["type"], r["proxy"], r["field"], r["actual"]) for r in written] == [
            ("drift", "ck-r-a", "enabled", False),
            ("drift", "ck-r-a", "toxic:slow", None),
            ("drift", "ck-r-b", "proxy", "absent"),
            ("drift", "ck-r-c", "proxy", "present"),
        ]

    kit.run(scenario())


def test_a_failing_hook_does_not_fail_the_request(kit) -> None:  # type: ignore[no-untyped-def]
    async def scenario() -> None:
        def broken(change: ApiChange) -> None:
            raise RuntimeError("hook bug")

        async with ProxyServer(port=0, on_change=broken) as server, ProxyClient(server.url) as c:
            assert (await c.create_proxy("a", "127.0.0.1:0", "127.0.0.1:9")).enabled

    kit.run(scenario())
