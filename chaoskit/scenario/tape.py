"""The tape: what the engine did in a run, kept as ``tape.json`` in the run directory.

Each fault event records its nemesis and options, its targets as the step wrote them
and the node ids they resolved to (with each node's role at that moment), what
triggered it (the step's reference time, the event that fired it, the delay), and its
start and end in scenario time (seconds since the fault phase began; ``origin_ns`` is
that instant on the run clock of the streams, so anomalies can be placed on the tape).
Steps that never fired are listed too, with the reason.

A tape turns back into steps (``tape_steps``) for ``chaoskit replay`` and ``chaoskit
shrink``: each applied fault at the time it started, for as long as it lasted; roles
that name a node by what it is at that moment (``leader``, ``old-leader``,
``follower``) stay roles, every random draw is pinned to the nodes it gave.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaoskit.errors import ConfigError
from chaoskit.scenario.model import Step, Targets, spec_text
from chaoskit.scenario.targets import ROLES

TAPE = "tape.json"
VERSION = 1


@dataclass
class TapeEvent:
    """One fault the engine applied (or tried to: ``fault_id`` None when the nemesis
    found nothing to do)."""

    id: int
    #: The step (0-based index in the schedule) and its repetition; None: applied by hand.
    step: int | None
    repetition: int
    nemesis: str
    options: dict[str, str]
    #: The targets as the step wrote them, or the nemesis's default selector.
    select: Targets
    nodes: list[str]
    #: Each target node's role when the fault started (leader, old-leader, or what the
    #: observer last heard from it: follower, candidate, down).
    roles: dict[str, str]
    fallback: bool
    #: ``{"reference", "when", "fired", "delay"}`` (seconds; ``at`` for timed steps).
    trigger: dict[str, Any]
    start: float
    end: float | None = None
    #: The fault's id in nemesis.jsonl.
    fault_id: int | None = None
    #: Still active when the fault phase ended (healed by the final phase).
    cut_short: bool = False
    note: str | None = None
    #: When the engine asked for the fault and for its heal: ``start`` and ``end`` are
    #: when they were done (cutting links through a busy proxy can take seconds).
    requested: float | None = None
    stop_requested: float | None = None

    @property
    def applied(self) -> bool:
        return self.fault_id is not None

    @property
    def key(self) -> str:
        return spec_text(self.nemesis, self.options)


@dataclass
class Tape:
    """The whole tape of a run; ``save`` rewrites ``tape.json`` atomically."""

    path: Path | None = None
    origin_ns: int = 0
    source: str = "schedule"
    events: list[TapeEvent] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    leaders: list[tuple[float, str | None]] = field(default_factory=list)

    def save(self) -> None:
        """Replace ``tape.json`` atomically, without fsync: it is rewritten at every
        fault start and stop from inside the engine's loop, and an fsync can stall for
        seconds on a busy disk (the streams' own fsyncs cover the final phase)."""
        if self.path is not None:
            tmp = self.path.with_suffix(".json.tmp")
            tmp.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
            tmp.replace(self.path)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "origin_ns": self.origin_ns,
            "source": self.source,
            "events": [asdict(e) for e in self.events],
            "skipped": self.skipped,
            "leaders": [list(change) for change in self.leaders],
        }

    def faults(self) -> list[TapeEvent]:
        """The events that applied a fault, in start order."""
        return sorted((e for e in self.events if e.applied), key=lambda e: (e.start, e.id))


def load_tape(run_dir: Path) -> Tape:
    """A stored run's tape; a ``ConfigError`` when the run has none or it is unreadable."""
    path = Path(run_dir) / TAPE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{run_dir} has no {TAPE}: it was recorded before tapes existed, or it "
            "never reached its fault phase"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    try:
        events = [_event(e) for e in data.get("events", [])]
    except (TypeError, KeyError, ValueError) as exc:
        raise ConfigError(f"{path}: a malformed event ({exc})") from None
    return Tape(
        path=path,
        origin_ns=int(data.get("origin_ns", 0)),
        source=str(data.get("source", "")),
        events=events,
        skipped=list(data.get("skipped", [])),
        leaders=[(float(t), leader) for t, leader in data.get("leaders", [])],
    )


def _event(raw: dict[str, Any]) -> TapeEvent:
    select = raw["select"]
    return TapeEvent(
        **{
            **raw,
            "select": select if isinstance(select, str) else tuple(select),
            "options": {str(k): str(v) for k, v in raw.get("options", {}).items()},
        }
    )


def tape_steps(tape: Tape, *, end: float | None = None) -> list[Step]:
    """The applied faults of ``tape`` as steps timed from the start (see the module
    docstring); a fault cut short by the fault phase's end lasts until ``end``.

    A step starts when the engine asked for the fault, and lasts from when the fault
    was in place to when its heal was asked for, as the engine counts a duration: so
    a replay asks at the same moments, whatever applying and healing cost."""
    steps = []
    for event in tape.faults():
        stop = event.stop_requested or event.end or end
        if stop is None:
            continue
        at = event.requested if event.requested is not None else event.start
        steps.append(
            Step(
                nemesis=event.nemesis,
                options=tuple(event.options.items()),
                targets=kept_targets(event),
                at=round(at, 3),
                duration=round(max(0.001, stop - event.start), 3),
                note=event.note,
            )
        )
    return steps


def kept_targets(event: TapeEvent) -> Targets:
    """Roles stay roles; a random draw becomes the nodes it drew (in the order drawn)."""
    select = event.select
    if isinstance(select, str):
        return select if select in ROLES else tuple(event.nodes)
    return tuple(select)
