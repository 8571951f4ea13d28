"""Shared helpers for the etcd tests: is etcd installed, and the CLI as a process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

needs_etcd = pytest.mark.skipif(
    shutil.which("etcd") is None, reason="etcd is not installed (Debian package etcd-server)"
)


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
        lines = (self.run_dir / name).read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


def chaoskit_cli(cwd: Path, *args: str, timeout: float = 150) -> CliRun:
    """``python -m chaoskit ARGS`` in ``cwd``; the repository first on the path."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path, COLUMNS="200")
    proc = subprocess.run(
        [sys.executable, "-m", "chaoskit", *args],
        capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env,
    )  # fmt: skip
    return CliRun(proc.returncode, proc.stdout, proc.stderr, cwd / "runs")
