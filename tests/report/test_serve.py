"""chaoskit serve: the store over HTTP on 127.0.0.1 (real sockets, port 0)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from chaoskit.errors import ConfigError
from chaoskit.report import make_app, serve

pytestmark = pytest.mark.integration


def with_client(store: Path, body: Callable[[TestClient], Awaitable[None]]) -> None:
    async def main() -> None:
        async with TestClient(TestServer(make_app(store), host="127.0.0.1", port=0)) as client:
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
