"""The observer's client: plain GETs over one kept-open connection, httpx's answers and
errors, nothing ever sent twice; anything unusual goes through httpx as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from chaoskit.clients import keepalive
from chaoskit.clients.http import observer_client
from chaoskit.runtimes.ports import reserve_port

pytestmark = pytest.mark.integration

Answer = Callable[[bytes], Awaitable[bytes | None]]


class Server:
    """A raw HTTP server whose answer to each request ``answer`` decides (None: hang up)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.requests.append(head)
                reply = await self.answer(head)
                if reply is None:
                    writer.transport.abort()
                    return
                writer.write(reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"


def ok(body: bytes = b'{"role":"leader","term":3}') -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Answer], Awaitable[Server]]]:
    started: list[Server] = []

    async def start(answer: Answer) -> Server:
        server = Server(answer)
        server.server = await asyncio.start_server(server.handle, "127.0.0.1", 0)
        started.append(server)
        return server

    yield start
    for server in started:
        assert server.server is not None
        server.server.close()


async def test_plain_gets_share_one_kept_open_connection(serve) -> None:
    async def answer(head: bytes) -> bytes:
        return ok()

    server = await serve(answer)
    async with observer_client() as http:
        for _ in range(50):
            resp = await http.get(server.url + "/status", timeout=1.0)
            resp.raise_for_status()
            assert resp.json() == {"role": "leader", "term": 3}
            assert isinstance(resp, httpx.Response) and resp.request.method == "GET"
    assert server.connections == 1 and len(server.requests) == 50
    assert server.requests[0].startswith(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1:")


async def test_chunked_and_closing_answers_are_read(serve) -> None:
    replies = [
        b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a\r\n4\r\n":1}\r\n0\r\n\r\n',
        b"HTTP/1.1 503 Busy\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno",
        ok(b"{}"),
    ]

    async def answer(head: bytes) -> bytes:
        return replies.pop(0)

    server = await serve(answer)
    async with observer_client() as http:
        assert (await http.get(server.url + "/s")).json() == {"a": 1}
        busy = await http.get(server.url + "/s")
        assert busy.status_code == 503
        with pytest.raises(httpx.HTTPStatusError):
            busy.raise_for_status()
        assert (await http.get(server.url + "/s")).json() == {}
    assert server.connections == 2  # the server closed after the 503


async def test_a_slow_answer_times_out_and_the_next_get_reconnects(serve) -> None:
    delays = [0.5, 0.0]

    async def answer(head: bytes) -> bytes:
        await asyncio.sleep(delays.pop(0))
        return ok()

    server = await serve(answer)
    async with observer_client() as http:
        with pytest.raises(httpx.ReadTimeout):
            await http.get(server.url + "/status", timeout=0.1)
        assert (await http.get(server.url + "/status", timeout=2.0)).status_code == 200
    assert server.connections == 2


async def test_a_connection_dropped_mid_answer_is_an_error_never_a_resend(serve) -> None:
    async def answer(head: bytes) -> bytes | None:
        return None  # hang up without answering, as a killed node does

    server = await serve(answer)
    async with observer_client() as http:
        with pytest.raises(httpx.ReadError):
            await http.get(server.url + "/status", timeout=1.0)
    assert len(server.requests) == 1


async def test_nothing_listening_is_a_connect_error() -> None:
    async with observer_client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"http://127.0.0.1:{reserve_port()}/status", timeout=1.0)


async def test_gets_with_extras_and_other_methods_go_through_httpx(serve) -> None:
    async def answer(head: bytes) -> bytes:
        return ok(b"{}")

    server = await serve(answer)
    async with observer_client() as http:
        await http.get(server.url + "/status")
        await http.get(server.url + "/status", params={"x": "1"})
        await http.get(server.url + "/status", headers={"X-Test": "1"})
        await http.request("GET", server.url + "/status", timeout=1.0)  # a spec target's
        await http.request("POST", server.url + "/status", json={})
    assert server.requests[1].startswith(b"GET /status?x=1 HTTP/1.1")
    assert b"x-test: 1" in server.requests[2].lower()
    assert b"POST /status" in server.requests[4]
    lean = [r for r in server.requests if b"user-agent" not in r.lower()]
    assert lean == [server.requests[0], server.requests[3]]  # the plain GETs


async def test_a_question_cancelled_midway_closes_its_connection(
    serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The observer stops (or its own time limit fires) while a node is silent: the
    connection, whose next bytes would be the stale answer, is closed, not reused."""
    closes: list[object] = []
    close = keepalive._Line.close
    monkeypatch.setattr(keepalive._Line, "close", lambda line: (closes.append(line), close(line)))

    async def answer(head: bytes) -> bytes:
        await asyncio.sleep(30)
        return ok()

    server = await serve(answer)
    async with observer_client() as http:
        question = asyncio.create_task(http.get(server.url + "/status", timeout=10.0))
        while not server.requests:
            await asyncio.sleep(0.01)
        question.cancel()
        with pytest.raises(asyncio.CancelledError):
            await question
        assert len(closes) == 1
        assert not any(http._idle.values())  # nothing left to reuse
