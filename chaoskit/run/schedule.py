"""The random fault schedule, drawn whole before the run starts from the run's seed.

A schedule alternates healthy and faulty intervals: it opens with a healthy one
(so a first leader is elected before any fault; at least the target's settle time,
counted from readiness: run/ready.py), picks one of the combined
nemeses at random for each fault, varies every interval between 0.5x and 1.5x
of its nominal length, and ends early enough to leave a healthy tail before the
final phase. Because it is data drawn up front, the same seed gives the same
faults at the same times, and ``chaoskit`` can print it before running::

    >>> import random
    >>> steps = build_schedule(["kill", "partition"], time_limit=30, fault_s=4,
    ...                        heal_s=4, rng=random.Random(7))
    >>> [s.action for s in steps[:2]]
    ['start', 'stop']

The draw becomes scenario steps (``schedule_steps``), which the scenario engine runs
like any hand-written scenario: one engine. Each fault is a step timed from the start
of the fault phase, with no targets of its own (the nemesis's default selector picks
them when it fires); the parts of ``a&b`` are steps at the same moment.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Literal

from chaoskit.errors import ConfigError
from chaoskit.run.config import NemesisSpec
from chaoskit.scenario.model import Step as ScenarioStep

Action = Literal["start", "stop"]

#: Fault and heal intervals last this many election timeouts ...
TIMEOUTS_PER_INTERVAL = 10
#: ... but never less than this (seconds): short faults show nothing.
MIN_INTERVAL_S = 2.0
#: Each interval is its nominal length times a factor drawn from this range.
SPREAD = (0.5, 1.5)


@dataclass(frozen=True)
class Step:
    """At ``at`` seconds since the run started, ``action`` the nemesis ``nemesis``."""

    at: float
    nemesis: str
    action: Action

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "nemesis": self.nemesis, "action": self.action}


def default_intervals(election_timeout: float) -> tuple[float, float]:
    """Fault and heal lengths (seconds) sized to the target's election timeout.

    A fault lasts about ten election timeouts, enough for several elections to
    be tried (and to fail or succeed) inside it; a heal as long, so the cluster
    can settle and the checkers can measure recovery.
    """
    if not election_timeout > 0:
        raise ConfigError(f"the election timeout must be positive, not {election_timeout}")
    length = max(MIN_INTERVAL_S, TIMEOUTS_PER_INTERVAL * election_timeout)
    return length, length


def nemesis_rng(seed: int | str, name: str) -> random.Random:
    """The generator a nemesis draws its victims from: one per nemesis and seed.

    Separate generators keep victims reproducible when nemeses are combined or
    when a leader-aware one draws only sometimes (on fallback).
    """
    return random.Random(f"{seed}:nemesis:{name}")


def schedule_rng(seed: int | str) -> random.Random:
    """The generator the schedule is drawn from, independent of every other draw."""
    return random.Random(f"{seed}:schedule")


def build_schedule(
    names: list[str],
    *,
    time_limit: float,
    fault_s: float,
    heal_s: float,
    rng: random.Random,
    tail_s: float | None = None,
    settle_s: float = 0.0,
) -> list[Step]:
    """Every start and stop of the run, in time order; one fault at a time.

    No fault starts before ``settle_s`` (the target's healthy start). ``tail_s``
    (default half a heal) is kept fault-free before ``time_limit``. When not even one
    randomized fault fits, a single fault over the middle third of the run (or from
    ``settle_s`` halfway to the end, if later) is scheduled, so a short run still sees
    a fault.
    """
    _check_lengths(time_limit=time_limit, fault_s=fault_s, heal_s=heal_s)
    if not names:
        return []
    end = time_limit - (heal_s / 2 if tail_s is None else tail_s)
    steps: list[Step] = []
    t = max(settle_s, heal_s * rng.uniform(*SPREAD))
    while True:
        name = rng.choice(names)
        length = fault_s * rng.uniform(*SPREAD)
        if t + length > end:
            break
        steps += [Step(_ms(t), name, "start"), Step(_ms(t + length), name, "stop")]
        t += length + heal_s * rng.uniform(*SPREAD)
    if not steps:
        name = rng.choice(names)
        start = max(time_limit / 3, settle_s)
        steps = [
            Step(_ms(start), name, "start"),
            Step(_ms(start + (time_limit - start) / 2), name, "stop"),
        ]
    return steps


def _check_lengths(**lengths: float) -> None:
    for key, value in lengths.items():
        if not value > 0:
            raise ConfigError(f"{key} must be positive, not {value}")


def _ms(seconds: float) -> float:
    """Round to the millisecond: plenty for faults, and stable to print and compare."""
    return round(seconds, 3)


def schedule_steps(
    specs: list[NemesisSpec],
    *,
    time_limit: float,
    fault_s: float,
    heal_s: float,
    rng: random.Random,
    settle_s: float = 0.0,
) -> list[ScenarioStep]:
    """The random schedule of ``--nemesis`` as scenario steps (see the module docstring)."""
    by_name = {str(spec): spec for spec in specs}
    draw = build_schedule(
        list(by_name),
        time_limit=time_limit,
        fault_s=fault_s,
        heal_s=heal_s,
        rng=rng,
        settle_s=settle_s,
    )
    steps: list[ScenarioStep] = []
    for start, stop in zip(draw[::2], draw[1::2], strict=True):
        spec = by_name[start.nemesis]
        for part in spec.together or [spec]:
            steps.append(
                ScenarioStep(
                    nemesis=part.name,
                    options=tuple(part.options.items()),
                    at=start.at,
                    duration=_ms(stop.at - start.at),
                )
            )
    return steps
