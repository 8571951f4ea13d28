"""``chaoskit`` as a separate process, for the tests of whole runs on SSH hosts.

Each test gets a ``Runs``: its own working directory, run store and state directory
(the registry of runs in progress), so runs and cleanups of parallel tests never see
each other's entries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Done:
    """A finished ``chaoskit run``: its exit status, output and stored run."""

    exit: int
    stdout: str
    stderr: str
    run_dir: Path | None

    def results(self) -> dict[str, Any]:
        assert self.run_dir is not None, self.stderr
        data: dict[str, Any] = json.loads((self.run_dir / "results.json").read_text())
        return data

    def config(self) -> dict[str, Any]:
        assert self.run_dir is not None, self.stderr
        data: dict[str, Any] = json.loads((self.run_dir / "config.json").read_text())
        return data

    def verdicts(self) -> dict[str, Any]:
        """Each checker's verdict, and the run's."""
        results = self.results()
        found = {name: c["valid"] for name, c in results["checkers"].items()}
        return {"run": results["valid"], **found}

    def anomalies(self) -> list[str]:
        """``checker: kind`` of every anomaly found."""
        return [
            f"{name}: {a.get('kind', '?')}"
            for name, c in self.results()["checkers"].items()
            for a in c.get("anomalies", [])
        ]

    def nemesis_log(self) -> list[dict[str, Any]]:
        assert self.run_dir is not None
        lines = (self.run_dir / "nemesis.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def describe(self) -> str:
        return f"exit {self.exit}\n{self.stdout[-3000:]}\n{self.stderr[-3000:]}"


@dataclass
class Runs:
    """Where one test's runs live."""

    cwd: Path
    state: Path
    procs: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
        return dict(os.environ, PYTHONPATH=path, COLUMNS="200", CHAOSKIT_STATE_DIR=str(self.state))

    def argv(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "chaoskit", *args]

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*args),
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def run(self, store: str, *args: str, timeout: float = 300) -> Done:
        """``chaoskit run --store STORE --no-progress ARGS`` to its end."""
        done = self.cli("run", "--store", store, "--no-progress", *args, timeout=timeout)
        return Done(done.returncode, done.stdout, done.stderr, self.latest(store))

    def spawn(self, store: str, *args: str) -> subprocess.Popen[str]:
        """A ``chaoskit run`` left running (to be killed by the test)."""
        proc = subprocess.Popen(
            self.argv("run", "--store", store, "--no-progress", *args),
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)
        return proc

    def latest(self, store: str) -> Path | None:
        """The newest run directory of ``store``."""
        found = sorted((self.cwd / store).glob("*/*/config.json"), key=lambda p: p.stat().st_mtime)
        return found[-1].parent if found else None

    def registry(self) -> list[str]:
        """Run ids in the registry of runs in progress."""
        return sorted(p.stem for p in (self.state / "active").glob("*.json"))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
