"""chaoskit serve: the store over HTTP on 127.0.0.1 (real sockets, port 0)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp.test_utils import TestClient, TestServer

from chaoskit.errors import ConfigError
from chaoskit.report import make_app, serve
from chaoskit.runtimes.ports import reserve_port

pytestmark = pytest.mark.integration


def with_client(
    store: Path, body: Callable[[TestClient], Awaitable[None]], **app_args: Any
) -> None:
    async def main() -> None:
        app = make_app(store, **app_args)
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as client:
            await body(client)

    asyncio.run(main())


def test_index_lists_runs_coloured_by_verdict(store: Path, bad_run: Path, good_run: Path) -> None:
    async def body(client: TestClient) -> None:
        resp = await client.get("/")
        page = await resp.text()
        assert resp.status == 200
        assert page.count('class="r-false run"') == 1 and page.count('class="r-true run"') == 1
        assert f'href="/{bad_run.relative_to(store).as_posix()}/report.html"' in page
        assert "2 of 2 runs" in page

    with_client(store, body)


def test_index_filters_by_target_and_nemesis(store: Path, bad_run: Path, good_run: Path) -> None:
    async def body(client: TestClient) -> None:
        page = await (await client.get("/", params={"target": "bully"})).text()
        assert "1 of 2 runs" in page and "raft-partition" not in page.split('id="run-table"')[1]
        page = await (await client.get("/", params={"nemesis": "partition+kill"})).text()
        assert "1 of 2 runs" in page and '<option value="bully"' in page
        page = await (
            await client.get("/", params={"target": "bully", "nemesis": "partition+kill"})
        ).text()
        assert "0 of 2 runs" in page

    with_client(store, body)


def test_run_report_is_rendered_on_request_and_files_served(store: Path, bad_run: Path) -> None:
    rel = bad_run.relative_to(store).as_posix()

    async def body(client: TestClient) -> None:
        assert not (bad_run / "report.html").exists()
        resp = await client.get(f"/{rel}/")
        assert resp.status == 200 and 'data-chart="timeline"' in await resp.text()
        assert (bad_run / "report.html").exists()
        log = await client.get(f"/{rel}/logs/n1.log")
        assert log.status == 200 and log.content_type == "text/plain"
        assert "n1 started" in await log.text()
        assert (await client.get(f"/{rel}")).status == 200  # redirected to the slash form

    with_client(store, body)


def test_paths_outside_the_store_are_refused(store: Path, bad_run: Path) -> None:
    async def body(client: TestClient) -> None:
        for path in ("/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/nope/report.html"):
            assert (await client.get(path)).status == 404

    with_client(store, body)


def test_serve_refuses_a_missing_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not a run store"):
        serve(tmp_path / "missing", port=0)


def test_foreign_host_names_are_refused(store: Path, bad_run: Path) -> None:
    """A page whose name resolves to 127.0.0.1 (DNS rebinding) must not read the store."""
    rel = bad_run.relative_to(store).as_posix()

    async def body(client: TestClient) -> None:
        for host in ("evil.example:8000", "127.0.0.1.nip.io", "localhost.evil.example", ""):
            for path in ("/", f"/{rel}/config.json", f"/{rel}/history.jsonl"):
                resp = await client.get(path, headers={"Host": host})
                assert resp.status == 421, (host, path)
                assert "not served here" in await resp.text() or "Host" in await resp.text()
        for host in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"):
            resp = await client.get(f"/{rel}/config.json", headers={"Host": host})
            assert resp.status == 200, host

    with_client(store, body)


def test_allowed_and_bound_hosts_are_served(store: Path, bad_run: Path) -> None:
    async def body(client: TestClient) -> None:
        for host in ("runs.internal:8000", "192.0.2.10:8000"):
            assert (await client.get("/", headers={"Host": host})).status == 200, host
        assert (await client.get("/", headers={"Host": "other.internal"})).status == 421

    with_client(store, body, allow_hosts=["Runs.Internal"], bound_host="192.0.2.10")


def test_the_serve_command_checks_host(store: Path, bad_run: Path) -> None:
    """The real ``chaoskit serve`` process: the store on 127.0.0.1, foreign names refused."""
    port = reserve_port()
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaoskit", "serve", str(store), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(url, timeout=2).status_code == 200
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.1)
        refused = httpx.get(url, headers={"Host": f"evil.example:{port}"}, timeout=5)
        assert refused.status_code == 421
        assert "--allow-host" in refused.text
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
