"""A SIGKILLed controller of a Docker run: `chaoskit cleanup` removes its containers and
network (found by the ``chaoskit.run`` label) and marks the run abandoned; without
``--run-id`` it spares every run whose creating process still lives."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from chaoskit.core.target import Launch
from chaoskit.runtimes.containers import LABEL_CONTROLLER, leftovers, remove_run
from chaoskit.runtimes.docker import DockerRuntime
from chaoskit.runtimes.registry import process_token
from tests.support.eventually import eventually

from .conftest import Session, open_faults

pytestmark = [pytest.mark.integration, pytest.mark.docker]


def _client_with_images() -> Any:
    from chaoskit.errors import SetupError
    from chaoskit.runtimes.images import NODE_IMAGE, PROXY_IMAGE, docker_client

    try:
        client = docker_client()
    except SetupError as exc:
        pytest.skip(f"{exc}; run .ci/docker-setup.sh to include the Docker tests")
    if not all(client.images.list(name=tag) for tag in (NODE_IMAGE, PROXY_IMAGE)):
        pytest.skip("no chaoskit images: run `chaoskit image build` (CI builds them)")
    return client


def _dead_token() -> str:
    """The token of a process that has exited."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    token = process_token(child.pid)
    child.wait()
    return token


def test_cleanup_without_run_id_spares_docker_runs_whose_creator_lives(
    session: Session, tmp_path: Path
) -> None:
    """No registry this cleanup reads knows either run (the runtime is used directly,
    as tests and library users do): the creator's token on the labels decides."""
    client = _client_with_images()
    live, dead = f"t{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}"
    runtimes = {rid: DockerRuntime(rid, tmp_path / rid, client=client) for rid in (live, dead)}
    runtimes[dead].labels[LABEL_CONTROLLER] = _dead_token()

    async def start(rt: DockerRuntime) -> None:
        (placement,) = rt.place_nodes(["n1"])
        await rt.launch(placement.outside, Launch([sys.executable, "-m", "http.server", "8000"]))

    try:
        for rt in runtimes.values():
            asyncio.run(start(rt))
        assert leftovers(live, client=client) and leftovers(dead, client=client)
        res = session.cli("cleanup", timeout=180)
        assert res.returncode == 0, res.stderr
        assert f"ck-{dead}-n1" in res.stdout and live not in res.stdout
        assert leftovers(dead, client=client) == []
        assert len(leftovers(live, client=client)) == 2  # its node and network, untouched
    finally:
        for rid in runtimes:
            remove_run(client, rid)


def test_cleanup_removes_the_containers_of_a_killed_docker_run(session: Session) -> None:
    client = _client_with_images()
    proc = session.spawn(
        "run",
        "--runtime",
        "docker",
        "--nodes",
        "3",
        "--nemesis",
        "partition",
        "--time-limit",
        "120",
        "--seed",
        "2",
        "--no-progress",
        "--fault-seconds",
        "60",
        "--heal-seconds",
        "1",
    )
    run_id = ""
    try:

        def partitioned() -> bool:
            assert proc.poll() is None, proc.communicate()
            latest = session.cwd / "runs" / "latest"
            return latest.exists() and bool(open_faults(latest))

        eventually(partitioned, "a partition in the docker run", timeout=180)
        run_id = session.config()["run_id"]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        left = leftovers(run_id, client=client)
        assert len([x for x in left if x.startswith("container")]) >= 4, left  # nodes, proxy
        assert session.registry() == [run_id]

        res = session.cli("cleanup", "--run-id", run_id, timeout=180)
        assert res.returncode == 0, res.stderr
        assert "removed container" in res.stdout and "abandoned" in res.stdout
        assert leftovers(run_id, client=client) == []
        assert session.registry() == []
        check = session.cli("check", str(session.latest))
        assert check.returncode == 2 and "incomplete" in check.stdout
    finally:
        if run_id:
            remove_run(client, run_id)
