"""Helpers for the NATS tests: the real ``chaoskit`` CLI as a process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    run_dir: Path

    def results(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "results.json").read_text())
        return data

    def config(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "config.json").read_text())
        return data

    def records(self, name: str) -> list[dict[str, Any]]:
        text = (self.run_dir / name).read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def chaoskit(cwd: Path, *args: str, timeout: float = 200) -> CliRun:
    """Run ``python -m chaoskit ARGS`` in ``cwd`` (its runs go to ``cwd/runs``)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path, COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "chaoskit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr, (cwd / "runs" / "latest").resolve())


@pytest.fixture
def cli(tmp_path: Path) -> Any:
    """``cli(*args)`` runs chaoskit in this test's temporary directory."""

    def run(*args: str, timeout: float = 200) -> CliRun:
        return chaoskit(tmp_path, *args, timeout=timeout)

    return run
