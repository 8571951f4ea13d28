"""RunResult: a run's verdict, where it is stored, and helpers for assertions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class RunResult:
    """The outcome of one run: its directory, its results and how it ended."""

    run_dir: Path
    results: dict[str, Any]
    seed: int | None = None
    command: str = ""
    interrupted: bool = False
    error: str | None = None

    @property
    def valid(self) -> Any:
        """True, False or "unknown" (the merged verdict of every checker)."""
        return self.results.get("valid", "unknown")

    @property
    def stopped_early(self) -> dict[str, Any] | None:
        """``{"at": ns, "anomaly": ...}`` when ``--fail-fast`` ended the run early."""
        stopped: dict[str, Any] | None = self.results.get("stopped_early")
        return stopped

    @property
    def exit_code(self) -> int:
        """0 valid, 1 an anomaly was found, 2 the run could not be carried out (or was
        stopped early for an anomaly the final check did not confirm: no verdict)."""
        if self.valid is False:
            return 1
        if (
            self.valid is True
            and not self.interrupted
            and self.error is None
            and self.stopped_early is None
        ):
            return 0
        return 2

    def anomalies(self, checker: str | None = None) -> list[dict[str, Any]]:
        """Anomalies of one checker (``"split-brain"``) or of all of them."""
        out: list[dict[str, Any]] = []
        for name, res in self.results.get("checkers", {}).items():
            if checker is None or name == checker:
                out += res.get("anomalies", [])
        return out

    def metrics(self, checker: str) -> dict[str, Any]:
        metrics: dict[str, Any] = (
            self.results.get("checkers", {}).get(checker, {}).get("metrics", {})
        )
        return metrics

    def describe(self) -> str:
        """What happened, in a few lines: the assertion message of ``assert_valid``."""
        lines = [f"chaoskit verdict: {self.valid} (seed {self.seed}, run {self.run_dir})"]
        if self.results.get("error"):
            lines.append(f"  error: {self.results['error']}")
        if self.stopped_early is not None:
            lines.append(f"  {stopped_text(self.stopped_early)}")
        for name, res in self.results.get("checkers", {}).items():
            if res.get("valid") is not True:
                lines.append(
                    f"  {name}: {res.get('valid')}"
                    + (f" ({res['error']})" if res.get("error") else "")
                )
            for anomaly in res.get("anomalies", [])[:5]:
                faults = ", ".join(str(f) for f in anomaly.get("faults", []) or []) or "none"
                lines.append(
                    f"    {anomaly.get('kind', name)}: {anomaly.get('message', '')} "
                    f"[faults: {faults}]"
                )
        if self.command:
            lines.append(f"  repeat with: {self.command}")
        return "\n".join(lines)

    def assert_valid(self) -> None:
        """Raise ``AssertionError`` with ``describe()`` unless every check is valid."""
        if self.valid is not True:
            raise AssertionError(self.describe())


def stopped_text(stopped: dict[str, Any]) -> str:
    """``stopped early at 3.21 s (--fail-fast): split-brain found live``"""
    anomaly = stopped.get("anomaly") or {}
    kind = anomaly.get("kind", "an anomaly")
    return f"stopped early at {stopped.get('at', 0) / 1e9:.2f} s (--fail-fast): {kind} found live"
