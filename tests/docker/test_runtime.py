"""DockerRuntime: containers start, die, freeze, come back where they were, and go."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.core.target import Launch
from chaoskit.errors import SetupError
from chaoskit.runtimes.containers import LABEL_RUN, cleanup, leftovers
from chaoskit.runtimes.docker import DockerRuntime
from chaoskit.runtimes.local import find_leftovers

from .conftest import wait_for

pytestmark = pytest.mark.docker

HTTP_SERVER = Launch([sys.executable, "-m", "http.server", "8000"])


async def _answers(url: str, timeout: float = 2.0) -> bool:
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


def test_lifecycle_kill_pause_start_and_close(
    client: Any, images: list[str], run_id: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        rt = DockerRuntime(run_id, tmp_path)
        try:
            (p1, p2) = rt.place_nodes(["n1", "n2"])
            for p in (p1, p2):
                await rt.launch(p.outside, HTTP_SERVER)
            url = p1.outside.url
            await wait_for(lambda: _answers(url), what="n1 to answer on its published port")
            assert rt.is_running("n1")
            # Containers are ours by label; the local runtime's /proc scan must not
            # mistake their processes for leftovers of a local run (and kill them).
            assert find_leftovers(run_id) == {}

            await rt.pause("n1")
            assert rt.is_running("n1")  # frozen, not gone
            assert not await _answers(url, timeout=1.0)
            await rt.resume("n1")
            await wait_for(lambda: _answers(url), what="n1 to answer after resume")

            await rt.kill("n1")
            assert not rt.is_running("n1") and rt.is_running("n2")
            assert not await _answers(url)
            await rt.start("n1")  # the same container, at the same host port
            await wait_for(lambda: _answers(url), what="n1 to answer after restart")

            await rt.pause("n2")
            await rt.kill("n2")  # a frozen container can be killed too
            assert not rt.is_running("n2")
            await rt.stop("n1")
            assert not rt.is_running("n1")
        finally:
            await rt.close()
        flt = {"label": f"{LABEL_RUN}={run_id}"}
        assert client.containers.list(all=True, filters=flt) == []
        assert client.networks.list(filters=flt) == []
        # One log per node, both runs of n1 in it, none repeated.
        log = (tmp_path / "logs" / "n1.log").read_text()
        assert log.count("Serving HTTP on 0.0.0.0 port 8000") == 2

    asyncio.run(scenario())


def test_cleanup_removes_only_that_runs_objects(
    client: Any, images: list[str], run_id: str, tmp_path: Path
) -> None:
    other = f"{run_id}x"
    bystanders = [
        client.containers.create(
            "chaoskit-node:latest", ["true"], name=f"ck-{other}-n1", labels={LABEL_RUN: other}
        ),
        client.containers.create("chaoskit-node:latest", ["true"], name=f"by-{run_id}"),
    ]

    async def crashed_run() -> None:
        rt = DockerRuntime(run_id, tmp_path)
        await rt.launch(rt.place("n1", 0).outside, HTTP_SERVER)  # and never closed

    try:
        asyncio.run(crashed_run())
        assert sorted(leftovers(run_id, client=client)) == [
            f"container ck-{run_id}-n1",
            f"network ck-{run_id}",
        ]
        assert sorted(cleanup(run_id)) == [f"container ck-{run_id}-n1", f"network ck-{run_id}"]
        for container in bystanders:
            container.reload()  # still there: raises NotFound otherwise
    finally:
        for container in bystanders:
            container.remove(force=True)


def test_a_missing_image_is_a_setup_error(client: Any, run_id: str, tmp_path: Path) -> None:
    async def scenario() -> None:
        rt = DockerRuntime(run_id, tmp_path, image="chaoskit-no-such-image:none")
        try:
            with pytest.raises(SetupError, match="not found"):
                await rt.launch(rt.place("n1", 0).outside, HTTP_SERVER)
        finally:
            await rt.close()

    asyncio.run(scenario())
