"""A target spec's [docker] table: the user's image and container port, for real.

The image here is the node image under another name (the offline machines cannot pull
anything else), which is enough to prove the spec's image and port are the ones used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaoskit.runtimes.containers import leftovers
from chaoskit.runtimes.images import NODE_IMAGE

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]
USER_IMAGE = "chaoskit-spec-test:latest"


@pytest.fixture
def user_image(client: Any, images: list[str]) -> Iterator[str]:
    client.images.get(NODE_IMAGE).tag(USER_IMAGE)
    yield USER_IMAGE
    client.images.remove(USER_IMAGE)


def test_spec_nodes_run_in_the_named_image_on_the_named_port(
    user_image: str, tmp_path: Path
) -> None:
    spec = tmp_path / "svc.toml"
    example = (REPO / "examples" / "raft.toml").read_text()
    spec.write_text(example + f'\n[docker]\nimage = "{user_image}"\nport = 9100\n')
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    argv = [sys.executable, "-m", "chaoskit", "run", "--runtime", "docker", "--no-progress"]
    argv += ["--target", str(spec), "--nodes", "3", "--nemesis", "partition"]
    argv += ["--workload", "register", "--time-limit", "15", "--seed", "2"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)
    run_dir = (tmp_path / "runs" / "latest").resolve()
    config = json.loads((run_dir / "config.json").read_text())
    assert leftovers(config["run_id"], client=None) == []
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert config["image"] == user_image
    results = json.loads((run_dir / "results.json").read_text())
    assert results["checkers"]["linearizable"]["valid"] is True
    observations = [json.loads(x) for x in (run_dir / "observations.jsonl").open()]
    assert any(o["role"] == "leader" for o in observations)
    # Each node listened on the spec's port inside its container (its own log says so).
    logs = sorted((run_dir / "logs").glob("n*.log"))
    assert logs and all(":9100" in log.read_text() for log in logs)
