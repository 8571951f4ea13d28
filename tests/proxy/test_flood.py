"""A connection flood through one proxy: a cap with back-pressure, and one line (no
traceback) when the process runs out of file descriptors, after which it recovers.

Both on real sockets: the cap in-process, the descriptor exhaustion in a ``chaoskit
proxy`` process started with a low ``RLIMIT_NOFILE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from chaoskit.proxy._proxy import Proxy
from chaoskit.runtimes.ports import reserve_port

from .conftest import Kit

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
Writer = asyncio.StreamWriter
WAIT_S = 60.0


def accept_queue(port: int) -> int:
    """Connections the kernel holds for the listener on ``port``, not yet accepted (the
    receive queue of a LISTEN socket in /proc/net/tcp is its accept queue)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[3] == "0A" and int(parts[1].split(":")[1], 16) == port:
            return int(parts[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on {port}")


async def wait_until(check: object, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not check():  # type: ignore[operator]
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def test_a_proxy_at_its_cap_stops_accepting_and_resumes_when_links_close(kit: Kit) -> None:
    cap, extra = 20, 30

    async def scenario() -> None:
        async with kit.upstream() as echo, kit.proxy() as (server, client):
            info = await client.create_proxy("p", "127.0.0.1:0", f"127.0.0.1:{echo}")
            proxy: Proxy = server.registry.get("p")
            proxy.max_links = cap
            conns = [await kit.connect(info.listen_port) for _ in range(cap + extra)]
            for _, writer in conns:
                writer.write(b"ping")
            served = [kit.read_exactly(r, 4, timeout=WAIT_S) for r, _ in conns[:cap]]
            assert await asyncio.gather(*served) == [b"ping"] * cap
            # The rest wait in the kernel's accept queue: back-pressure, no refusal.
            await wait_until(lambda: accept_queue(info.listen_port) == extra, "the queue")
            assert len(proxy.links) == cap
            for reader, _ in conns[cap:]:
                assert not reader.at_eof() and not reader._buffer  # type: ignore[attr-defined]

            # Links that close make room: the waiting connections are served in turn
            # (more of them than the cap, so some only once others were served and closed).
            async def served_then_closed(reader: asyncio.StreamReader, writer: Writer) -> bytes:
                got = await kit.read_exactly(reader, 4, timeout=WAIT_S)
                await kit.close(writer)
                return got

            for _, writer in conns[:cap]:
                await kit.close(writer)
            later = [served_then_closed(r, w) for r, w in conns[cap:]]
            assert await asyncio.gather(*later) == [b"ping"] * extra
            assert accept_queue(info.listen_port) == 0
            await wait_until(lambda: proxy.open_links == 0, "every link to close")

    kit.run(scenario(), timeout=3 * WAIT_S)


def _limit_descriptors() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))


def test_out_of_descriptors_is_one_line_and_the_proxy_recovers(kit: Kit, tmp_path: Path) -> None:
    port = reserve_port()
    log = tmp_path / "proxy.err"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaoskit", "proxy", "--port", str(port)],
            env=dict(os.environ, PYTHONPATH=str(REPO)),
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=_limit_descriptors,
        )
    url = f"http://127.0.0.1:{port}"

    async def scenario() -> None:
        async with kit.upstream() as echo:
            async with httpx.AsyncClient(base_url=url, timeout=10) as api:

                async def up() -> bool:
                    assert proc.poll() is None, log.read_text()
                    with contextlib.suppress(httpx.HTTPError):
                        return (await api.get("/version")).status_code == 200
                    return False

                while not await up():
                    await asyncio.sleep(0.1)
                made = await api.post(
                    "/proxies",
                    json={"name": "p", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo}"},
                )
                listen = int(made.json()["listen"].rsplit(":", 1)[1])
            # 300 connections need 600 descriptors in the proxy; it has 160.
            flood = []
            for _ in range(300):
                sock = socket.create_connection(("127.0.0.1", listen), timeout=10)
                flood.append(sock)
            await wait_until(lambda: "cannot accept connections" in log.read_text(), "the line")
            # The API's own server, out of descriptors too: one line, not a traceback.
            knocks = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(3)]
            await wait_until(lambda: "proxy API: cannot accept" in log.read_text(), "API line")
            for sock in flood + knocks:
                sock.close()
            # Recovered: a new connection is relayed once descriptors are free again.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT_S
            while True:
                try:
                    reader, writer = await kit.connect(listen)
                    writer.write(b"ping")
                    if await kit.read_exactly(reader, 4, timeout=5) == b"ping":
                        await kit.close(writer)
                        break
                except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
                    pass
                assert loop.time() < deadline, "the proxy never recovered"
                await asyncio.sleep(0.2)

    try:
        kit.run(scenario(), timeout=4 * WAIT_S)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert "Traceback" not in text, text
    assert text.count("proxy p: cannot accept connections") == 1, text
    assert text.count("proxy API: cannot accept connections") == 1, text
    assert len([line for line in text.splitlines() if line.strip()]) == 2, text
