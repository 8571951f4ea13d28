"""What a re-run found, and what counts as "the same anomaly again".

An anomaly's kind is the pair (checker, kind) of ``results.json``: ``("linearizable",
"non-linearizable")``. Replay and shrink look for the kind of the run they start from:
the one given (``--kind``), else the kind of the run's earliest safety anomaly, else its
earliest anomaly of any kind. Safety comes first because a buggy run under load often
also stalls an election, and it is the safety violation a user wants shrunk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from chaoskit.errors import ConfigError
from chaoskit.scenario.model import Step

Kind = tuple[str, str]
#: Checkers whose anomalies are about liveness: chosen only when nothing else was found.
LIVENESS = ("stalled-election",)


def anomalies(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every anomaly of every checker, tagged with its checker, earliest first."""
    found = []
    for checker, res in (results.get("checkers") or {}).items():
        for anomaly in res.get("anomalies") or []:
            found.append({**anomaly, "checker": checker})
    return sorted(found, key=_start)


def _start(anomaly: dict[str, Any]) -> int:
    start = anomaly.get("start")
    return start if isinstance(start, int) else 0


def kinds_of(results: dict[str, Any]) -> list[Kind]:
    """The distinct (checker, kind) pairs of a run's anomalies, earliest first."""
    seen = [(str(a["checker"]), str(a.get("kind", a["checker"]))) for a in anomalies(results)]
    return list(dict.fromkeys(seen))


def choose_kind(results: dict[str, Any], wanted: str | None = None) -> Kind | None:
    """The anomaly kind to reproduce (see the module docstring); None for a valid run.

    ``wanted`` is ``KIND`` or ``CHECKER:KIND``; one the run did not find is an error.
    """
    kinds = kinds_of(results)
    if wanted:
        checker, _, kind = wanted.rpartition(":")
        match = [k for k in kinds if k[1] == kind and (not checker or k[0] == checker)]
        if not match:
            found = ", ".join(f"{c}:{k}" for c, k in kinds) or "none"
            raise ConfigError(f"the run found no '{wanted}' anomaly (it found: {found})")
        return match[0]
    safety = [k for k in kinds if k[0] not in LIVENESS]
    ranked = safety or kinds
    return ranked[0] if ranked else None


def first_anomaly(results: dict[str, Any], kind: Kind) -> dict[str, Any] | None:
    """The earliest anomaly of ``kind``."""
    for anomaly in anomalies(results):
        if (anomaly["checker"], anomaly.get("kind", anomaly["checker"])) == kind:
            return anomaly
    return None


@dataclass(frozen=True)
class Candidate:
    """A schedule to re-run: its steps, its clients and its time limit."""

    steps: tuple[Step, ...]
    concurrency: int
    bound_clients: int
    time_limit: float

    @property
    def events(self) -> int:
        """Fault events (repetitions counted)."""
        return sum(s.repeat for s in self.steps if not s.is_wait)


@dataclass
class Outcome:
    """One re-run: where it is stored and what it found."""

    run_dir: Path | None
    kinds: list[Kind] = field(default_factory=list)
    valid: Any = "unknown"
    error: str | None = None
    wall_s: float = 0.0

    def reproduced(self, kind: Kind | None) -> bool:
        """Whether the run found an anomaly of ``kind`` (of any kind when None)."""
        return bool(self.kinds) if kind is None else kind in self.kinds

    def to_json(self, kind: Kind | None) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir) if self.run_dir else None,
            "valid": self.valid,
            "kinds": [f"{c}:{k}" for c, k in self.kinds],
            "reproduced": self.reproduced(kind),
            "error": self.error,
            "wall_s": round(self.wall_s, 1),
        }


class Runner(Protocol):
    """Runs one candidate and says what it found (the real one: chaoskit.run.rerun)."""

    async def __call__(self, candidate: Candidate, purpose: str, index: int) -> Outcome: ...
