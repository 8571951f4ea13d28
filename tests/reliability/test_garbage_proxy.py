"""``--toxiproxy-url`` pointing at a server that is not Toxiproxy: whatever it answers
(HTML, a JSON list, an object of the wrong shape, a listen address without a port,
JSON nested 5000 deep), the run ends with one line and exit status 2, and leaves no
node, registry entry or listener behind."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from chaoskit.errors import ProxyError
from chaoskit.proxy import ProxyClient
from chaoskit.runtimes.local import find_leftovers

from .conftest import Session

pytestmark = pytest.mark.integration

#: (what /version answers, what everything else answers)
GARBAGE = {
    "html": ("<html>hello</html>", "<html>not found</html>"),
    "list": ('"2.9.0"', "[1, 2, 3]"),
    "shape": ('{"version": "2.9.0"}', '{"name": 5}'),
    "no-port": (
        '{"version": "2.9.0"}',
        '{"name": "p", "listen": "nowhere", "upstream": "x:1", "enabled": true}',
    ),
    "nested": ('{"version": "2.9.0"}', '{"a": ' * 5000 + "1" + "}" * 5000),
}


class GarbageServer:
    """An HTTP server on a free port, in a thread, answering 200 with fixed bodies."""

    def __init__(self, version: str, body: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.version, self.body = version, body
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(30)

    async def _start(self) -> web.AppRunner:
        async def answer(request: web.Request) -> web.Response:
            text = self.version if request.path == "/version" else self.body
            return web.Response(text=text, content_type="application/json")

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", answer)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        return runner

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(params=sorted(GARBAGE))
def garbage(request: pytest.FixtureRequest) -> Iterator[GarbageServer]:
    server = GarbageServer(*GARBAGE[request.param])
    try:
        yield server
    finally:
        server.close()


def test_the_client_turns_garbage_into_one_proxy_error(garbage: GarbageServer) -> None:
    async def scenario() -> None:
        async with ProxyClient(garbage.url) as client:
            await client.version()  # some answer; only the shape of the others is checked
            for call in (
                client.proxies(),
                client.create_proxy("p", "127.0.0.1:0", "127.0.0.1:1"),
                client.toxics("p"),
                client.add_toxic("p", "latency", attributes={"latency": 1}),
            ):
                with pytest.raises(ProxyError) as err:
                    await call
                assert "\n" not in str(err.value) and len(str(err.value)) < 400

    asyncio.run(asyncio.wait_for(scenario(), 60))


def test_a_run_against_garbage_ends_in_one_line(session: Session, garbage: GarbageServer) -> None:
    res = session.cli(
        "run",
        "--toxiproxy-url",
        garbage.url,
        "--nodes",
        "3",
        "--time-limit",
        "5",
        "--no-progress",
        timeout=180,
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "Traceback" not in res.stdout + res.stderr
    assert "internal error" not in res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.stderr
    assert garbage.url in errors[0]
    config = json.loads((session.latest / "config.json").read_text())
    assert find_leftovers(config["run_id"]) == {}
    assert session.registry() == []
