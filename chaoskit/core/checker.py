"""The Checker part: a pure function of the recorded streams.

A checker reads the run (history, observations, fault log and the run's config)
and returns a ``CheckResult``. Verdicts merge by priority, as in Jepsen:
``True`` < ``"unknown"`` < ``False``. A checker that raises yields ``unknown`` with
the error; it never loses a run.

Every anomaly is a dict with at least ``kind`` (e.g. ``"split-brain"``) and
``message`` (one human line); where it applies also ``start``/``end`` (ns, the
window), ``nodes``, ``terms``, ``keys`` and ``faults`` (names of the faults active
in the window, from ``nemesis.jsonl``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from chaoskit.core.records import Record

Verdict = bool | Literal["unknown"]


@dataclass
class RunData:
    """Everything a checker may read: the three streams and the run's config.

    ``config`` holds at least ``nodes`` (ids), ``policy``, ``election_deadline``
    (seconds), ``workload``, ``model`` and ``end_time`` (ns).
    """

    history: list[Record]
    observations: list[Record]
    nemesis: list[Record]
    config: dict[str, Any]
    incomplete: bool = False


@dataclass
class CheckResult:
    """A verdict with its anomalies (each naming a time window) and figures."""

    valid: Verdict
    anomalies: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "valid": self.valid,
            "anomalies": self.anomalies,
            "metrics": self.metrics,
        }
        if self.error:
            out["error"] = self.error
        return out


@runtime_checkable
class Checker(Protocol):
    """One check over a run."""

    name: str
    description: str

    def check(self, run: RunData) -> CheckResult:
        """Return the verdict for ``run``."""


def merge_verdicts(verdicts: list[Verdict]) -> Verdict:
    """Jepsen's priority: any False wins, then any unknown, else True."""
    if any(v is False for v in verdicts):
        return False
    if any(v == "unknown" for v in verdicts):
        return "unknown"
    return True
