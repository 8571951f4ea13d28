"""Driving ``docker-compose.yml`` from the tests with either Compose: v1 or v2.

The project promises one compose file for both Debian's ``docker-compose`` 1.29 (v1)
and the ``docker compose`` plugin (v2), so every compose test runs under each
(``.ci/docker-setup.sh`` installs both).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from chaoskit.runtimes.ports import reserve_port

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
NODES = [f"n{i}" for i in range(1, 6)]
CLIS = {"v1": ["docker-compose"], "v2": ["docker", "compose"]}


def installed_version(flavour: str) -> str | None:
    """The version of that Compose when it is installed and of that major, else None."""
    argv = CLIS[flavour]
    if shutil.which(argv[0]) is None:
        return None
    done = subprocess.run(
        [*argv, "version", "--short"], capture_output=True, text=True, timeout=60, check=False
    )
    version = done.stdout.strip().lstrip("v")
    return version if done.returncode == 0 and version.startswith(flavour[1]) else None


@dataclass
class ComposeProject:
    """One project of the compose file, on ports of its own, under one Compose CLI."""

    cli: list[str]
    name: str
    ports: dict[str, int] = field(default_factory=lambda: {n: reserve_port() for n in NODES})
    proxy_port: int = field(default_factory=reserve_port)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ, CHAOSKIT_PROXY_PORT=str(self.proxy_port))
        env.update({f"CHAOSKIT_PORT_{node.upper()}": str(p) for node, p in self.ports.items()})
        return env

    @property
    def label_filter(self) -> dict[str, str]:
        return {"label": f"com.docker.compose.project={self.name}"}

    def __call__(self, *args: str) -> None:
        argv = [*self.cli, "-f", str(COMPOSE_FILE), "-p", self.name, *args]
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=180, check=False
        )
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr[-2000:]}"


def run_attached(
    project: str, cwd: Path, *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``chaoskit run --runtime compose`` on ``project`` of the compose file, as a user runs it."""
    argv = [sys.executable, "-m", "chaoskit", "run", "--runtime", "compose"]
    argv += ["--compose-file", str(COMPOSE_FILE), "--compose-project", project, "--no-progress"]
    return subprocess.run(
        [*argv, *options],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=dict(env or os.environ, PYTHONPATH=str(REPO), COLUMNS="200"),
    )
