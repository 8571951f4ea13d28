"""`chaoskit run --runtime compose`: attach to the cluster docker-compose.yml brings up.

The run must pass, fault the compose proxy's own links, and leave the user's
containers in place, running and healed (never removed, never left cut).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaoskit._ports import reserve_port
from chaoskit.proxy import ProxyClient

from .test_compose import NODES, REPO, compose

pytestmark = [pytest.mark.docker, pytest.mark.slow]


async def _proxy_state(port: int) -> dict[str, tuple[bool, int]]:
    async with ProxyClient(f"http://127.0.0.1:{port}") as client:
        return {n: (p.enabled, len(p.toxics)) for n, p in (await client.proxies()).items()}


def test_run_attached_to_compose_passes_and_leaves_the_cluster_healed(
    client: Any, images: list[str], run_id: str, tmp_path: Path
) -> None:
    project = f"ck{run_id}"
    proxy_port = reserve_port()
    env = dict(os.environ, CHAOSKIT_PROXY_PORT=str(proxy_port))
    env.update({f"CHAOSKIT_PORT_{node.upper()}": str(reserve_port()) for node in NODES})
    flt = {"label": f"com.docker.compose.project={project}"}
    try:
        compose(project, env, "up", "-d", "--no-build")
        started = {c.name for c in client.containers.list(all=True, filters=flt)}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "chaoskit",
                "run",
                "--runtime",
                "compose",
                "--compose-file",
                str(REPO / "docker-compose.yml"),
                "--compose-project",
                project,
                "--nemesis",
                "partition",
                "--time-limit",
                "20",
                "--seed",
                "3",
                "--election-deadline",  # a shared, loaded machine: elections can be slow
                "10",
                "--no-progress",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env=dict(env, PYTHONPATH=str(REPO), COLUMNS="200"),
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        run_dir = (tmp_path / "runs" / "latest").resolve()
        faults = [json.loads(x) for x in (run_dir / "nemesis.jsonl").read_text().splitlines()]
        assert any(f["type"] == "start" and f["cut"] for f in faults)
        config = json.loads((run_dir / "config.json").read_text())
        assert config["nodes"] == NODES
        assert "--runtime compose" in config["command"]
        assert (run_dir / "logs" / "n1.log").exists()
        # The compose containers are still there, all running; every link healed.
        after = client.containers.list(all=True, filters=flt)
        assert {c.name for c in after} == started
        assert all(c.status == "running" for c in after)
        state = asyncio.run(_proxy_state(proxy_port))
        assert len(state) == 20
        assert all(enabled and toxics == 0 for enabled, toxics in state.values())
    finally:
        compose(project, env, "down", "-v", "--remove-orphans")
    assert client.containers.list(all=True, filters=flt) == []


def test_run_against_a_project_that_is_not_up_says_so(images: list[str], tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "chaoskit",
            "run",
            "--runtime",
            "compose",
            "--compose-file",
            str(REPO / "docker-compose.yml"),
            "--compose-project",
            "cknotup",
            "--time-limit",
            "5",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200"),
    )
    assert proc.returncode == 2
    assert "docker-compose up -d" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
