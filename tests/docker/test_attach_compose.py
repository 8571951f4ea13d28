"""`chaoskit run --runtime compose`: attach to the cluster docker-compose.yml brings up.

The run must pass, fault the compose proxy's own links, and leave the user's
containers in place, running and healed (never removed, never left cut). The cluster
is brought up by Compose v1 and by v2 in turn: attaching relies only on labels both set.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from chaoskit.proxy import ProxyClient

from ._compose import NODES, ComposeProject, run_attached

pytestmark = [pytest.mark.docker, pytest.mark.slow]


async def _proxy_state(port: int) -> dict[str, tuple[bool, int]]:
    async with ProxyClient(f"http://127.0.0.1:{port}") as client:
        return {n: (p.enabled, len(p.toxics)) for n, p in (await client.proxies()).items()}


def test_run_attached_to_compose_passes_and_leaves_the_cluster_healed(
    client: Any, images: list[str], run_id: str, tmp_path: Path, compose_cli: list[str]
) -> None:
    compose = ComposeProject(compose_cli, f"ck{run_id}")
    try:
        compose("up", "-d", "--no-build")
        started = {c.name for c in client.containers.list(all=True, filters=compose.label_filter)}
        proc = run_attached(
            compose.name,
            tmp_path,
            *("--nemesis", "partition", "--time-limit", "20", "--seed", "3"),
            # A shared, loaded machine: elections can be slow.
            *("--election-deadline", "10"),
            env=compose.env,
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
        after = client.containers.list(all=True, filters=compose.label_filter)
        assert {c.name for c in after} == started
        assert all(c.status == "running" for c in after)
        state = asyncio.run(_proxy_state(compose.proxy_port))
        assert len(state) == 20
        assert all(enabled and toxics == 0 for enabled, toxics in state.values())
    finally:
        compose("down", "-v", "--remove-orphans")
    assert client.containers.list(all=True, filters=compose.label_filter) == []


def test_run_against_a_project_that_is_not_up_says_so(images: list[str], tmp_path: Path) -> None:
    proc = run_attached("cknotup", tmp_path, "--time-limit", "5")
    assert proc.returncode == 2
    assert "docker-compose up -d" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
