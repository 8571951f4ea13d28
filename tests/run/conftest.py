"""Helpers for end-to-end runs through the real front door (the CLI, as a process)."""

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
    store: Path

    @property
    def run_dir(self) -> Path:
        return (self.store / "latest").resolve()

    def results(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.run_dir / "results.json").read_text())
        return data

    def records(self, name: str) -> list[dict[str, Any]]:
        path = self.run_dir / name
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def chaoskit_cli(store: Path, *args: str, timeout: float = 240) -> CliRun:
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "chaoskit", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=store,
        env=env,
    )
    return CliRun(proc.returncode, proc.stdout, proc.stderr, store / "runs")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path
