"""The scenario model: a list of steps, each one fault (or a wait) with its trigger.

A step says *what* (a nemesis and its options), *on whom* (targets: a selector such as
``leader`` or ``minority``, or node ids), *when* (at a time, or after the previous
step, once a leader is elected, a new leader appears or the cluster is stable), *for
how long* and *how many times*. The random schedule drawn from a seed, a hand-written
scenario file, a stored run's tape and every candidate of the shrinker are all lists
of steps, run by one engine (engine.py). Steps are frozen and hashable, so the
shrinker can remember which candidates it already tried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

After = Literal["end", "start"]
When = Literal["leader", "new-leader", "stable"]
#: A selector (``"leader"``, ``"minority"``, ``"3"``) or explicit targets
#: (node ids, or the single-node roles ``leader``, ``old-leader``, ``follower``).
Targets = str | tuple[str, ...]

AFTER: tuple[After, ...] = ("end", "start")
WHEN: tuple[When, ...] = ("leader", "new-leader", "stable")


@dataclass(frozen=True)
class Step:
    """One step; see docs/scenarios.md for the meaning of every field."""

    #: The nemesis name; ``None`` for a step that only waits.
    nemesis: str | None = None
    #: Its options, as ``(key, value)`` pairs (hashable).
    options: tuple[tuple[str, str], ...] = ()
    #: Whom the fault hits; ``None``: the nemesis's own default (``count=``, ``-leader``).
    targets: Targets | None = None
    #: Seconds after the fault phase began (absolute); else relative to the previous step.
    at: float | None = None
    #: ``end``: once the previous step ended; ``start``: once it started (together).
    after: After = "end"
    #: Then wait for this event of the observer's leader stream.
    when: When | None = None
    #: ``when = "stable"``: the same leader seen for this many seconds.
    stable: float = 0.0
    #: Then wait this long (seconds) ...
    delay: float = 0.0
    #: ... then apply the fault for this long (a wait step: wait this long).
    duration: float = 0.0
    #: Do it all this many times (each repetition after the previous one ended).
    repeat: int = 1
    #: Give up waiting for ``when`` after this many seconds (default: the run's end).
    timeout: float | None = None
    #: What the step is for, shown in the tape and the report.
    note: str | None = None

    @property
    def key(self) -> str:
        """The nemesis with its options as the command line writes it
        (``partition:mode=hang``): the fault book's key for this nemesis."""
        return spec_text(self.nemesis or "", dict(self.options))

    @property
    def is_wait(self) -> bool:
        return self.nemesis is None

    def to_json(self) -> dict[str, Any]:
        """The fields that differ from the defaults (``schedule.json``, scenario files)."""
        out: dict[str, Any] = {}
        if self.nemesis is not None:
            out["nemesis"] = self.nemesis
        if self.options:
            out["options"] = dict(self.options)
        if self.targets is not None:
            out["targets"] = self.targets if isinstance(self.targets, str) else list(self.targets)
        for name, default in (
            ("at", None),
            ("after", "end"),
            ("when", None),
            ("stable", 0.0),
            ("delay", 0.0),
            ("duration", 0.0),
            ("repeat", 1),
            ("timeout", None),
            ("note", None),
        ):
            value = getattr(self, name)
            if value != default and not (name == "after" and self.at is not None):
                out[name] = value
        return out


@dataclass(frozen=True)
class Scenario:
    """A scenario file: its steps, the run settings it needs, and where it came from."""

    steps: tuple[Step, ...]
    #: Run settings by their marker/matrix key (``target``, ``options``, ``seed``, ...).
    run: Mapping[str, Any] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    #: Free-form facts about its origin (written by ``chaoskit shrink``).
    origin: Mapping[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        """Every nemesis (with options) the steps use, in order of first use."""
        return list(dict.fromkeys(s.key for s in self.steps if not s.is_wait))


def spec_text(name: str, options: Mapping[str, str]) -> str:
    """``name`` or ``name:k=v;k2=v2``, as ``--nemesis`` takes it."""
    if not options:
        return name
    return name + ":" + ";".join(f"{k}={v}" for k, v in options.items())
