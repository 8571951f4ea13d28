"""Clock faults: lie to nodes about the time through the run's Clock (``ctx.clock``).

=========================== =====================================================
``clock-bump``              jump a random subset by up to +-``max_offset_s`` (30)
``clock-strobe``            flip a random subset between +``offset_s`` and
                            -``offset_s`` (0.5) every ~``period_ms`` (20) until stopped
``clock-rate``              one node's clock runs slow or fast (``rate=``; by default
                            0.5 or 1.5, drawn per victim)
``clock-skew-leader``       the current leader's clock: ``offset_s`` (0), ``rate`` (0.5)
=========================== =====================================================

The targets are the victims. By default (``count=``, not for ``clock-skew-leader``,
which skews the leader's): ``random`` (any non-empty subset) for bump and strobe,
``one`` for rate; ``count=`` takes any target selector (``minority``, ``all``, a number,
``leader``: the node the observer believes leads when the step fires, a random node
when nobody does), so ``clock-strobe:count=leader`` strobes the leader.

A wrong clock makes nobody unavailable, so ``Fault.down`` and ``Fault.cut`` stay
empty; ``detail["clocks"]`` records each victim's offset and rate. With libfaketime
a node's monotonic clock moves too (see ``chaoskit/clock/faketime.py`` for why), so a
negative bump or a strobe also delays the node's timers. ``stop`` resets the victims
to the true time, and so does the final phase through ``Clock.reset()``; stop a
strobe first, or its task keeps flipping.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chaoskit.core.clock import MAX_OFFSET_S, MAX_RATE, MIN_RATE, Clock
from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.errors import ConfigError, SetupError
from chaoskit.nemeses._options import TargetedOptions, parse_int

DEFAULT_MAX_OFFSET_S = 30.0
DEFAULT_STROBE_OFFSET_S = 0.5
DEFAULT_STROBE_PERIOD_MS = 20
#: ``clock-rate`` without ``rate=`` draws each victim's rate from these.
DEFAULT_RATES = (0.5, 1.5)
DEFAULT_LEADER_RATE = 0.5
#: The slowest strobe: a minute between flips (slower is a bump, say ``clock-bump``).
MAX_STROBE_PERIOD_MS = 60_000


def require_clock(ctx: NemesisContext, nemesis: str) -> Clock:
    """The run's Clock, or a ``SetupError`` that says why there is none."""
    if ctx.clock is None:
        raise SetupError(
            f"nemesis '{nemesis}' needs control of node clocks: libfaketime is missing "
            "(apt-get install faketime) or the runtime has no clock support"
        )
    return ctx.clock


def parse_float(nemesis: str, key: str, value: str, *, positive: bool = False) -> float:
    """A finite number of seconds or a rate, e.g. ``max_offset_s=2.5``."""
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"nemesis '{nemesis}': {key} must be a number, not '{value}'") from None
    if not math.isfinite(number) or (positive and number <= 0):
        want = "a positive number" if positive else "a finite number"
        raise ConfigError(f"nemesis '{nemesis}': {key} must be {want}, not '{value}'")
    return number


def parse_offset(nemesis: str, key: str, value: str, *, positive: bool = False) -> float:
    """Seconds a clock is moved by: at most ``MAX_OFFSET_S`` (20 years) either way."""
    offset = parse_float(nemesis, key, value, positive=positive)
    if abs(offset) > MAX_OFFSET_S:
        raise ConfigError(
            f"nemesis '{nemesis}': {key} must be within {MAX_OFFSET_S:g} s (20 years) "
            f"either way, not {offset:g}"
        )
    return offset


def parse_rate(nemesis: str, value: str, *, allow_one: bool = False) -> float:
    """A clock speed factor: slower below 1, faster above, never stopped."""
    rate = parse_float(nemesis, "rate", value, positive=True)
    if not MIN_RATE <= rate <= MAX_RATE:
        raise ConfigError(
            f"nemesis '{nemesis}': rate must be between {MIN_RATE:g} and {MAX_RATE:g}, not {rate:g}"
        )
    if rate == 1.0 and not allow_one:
        raise ConfigError(f"nemesis '{nemesis}': rate=1 is the true speed, not a fault")
    return rate


def clock_fault(
    name: str, victims: list[str], settings: dict[str, tuple[float, float]], detail: dict[str, Any]
) -> Fault:
    """A Fault whose detail names each victim's offset and rate; nobody is down."""
    clocks = {n: {"offset_s": o, "rate": r} for n, (o, r) in sorted(settings.items())}
    return Fault(
        fault=name, detail={**detail, "nodes": victims, "clocks": clocks}, state=list(victims)
    )


class _ClockNemesis(TargetedOptions):
    """Shared shape: parse options, pick victims, set their clocks; stop resets them."""

    name = ""
    description = ""
    options: tuple[str, ...] = ("count",)
    default_targets = "random"

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        clock = require_clock(ctx, self.name)
        victims = _victims(ctx, targets)
        if not victims:
            return None
        settings = {node: self._setting(ctx.rng) for node in victims}
        for node, (offset_s, rate) in settings.items():
            clock.set(node, offset_s=offset_s, rate=rate)
        return clock_fault(self.name, victims, settings, {})

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        if ctx.clock is None:
            return
        for node in _victims_of(fault):
            ctx.clock.reset(node)

    def _setting(self, rng: random.Random) -> tuple[float, float]:
        """``(offset_s, rate)`` for one victim."""
        raise NotImplementedError


def _victims(ctx: NemesisContext, targets: Sequence[str]) -> list[str]:
    """The targets that are nodes of the cluster, sorted (a clock fault has no shape)."""
    return sorted(set(targets) & set(ctx.ids))


def _victims_of(fault: Fault) -> list[str]:
    if isinstance(fault.state, list):
        return [str(n) for n in fault.state]
    if isinstance(fault.state, _Strobe):
        return list(fault.state.victims)
    return [str(n) for n in fault.detail.get("nodes", [])]


class ClockBump(_ClockNemesis):
    """Each victim's clock jumps by its own random offset, as a bad NTP step would."""

    name = "clock-bump"
    description = "jump the clocks of a random subset of nodes by up to +-max_offset_s"
    options = ("count", "max_offset_s")

    def __init__(self) -> None:
        super().__init__()
        self.max_offset_s = DEFAULT_MAX_OFFSET_S

    def _configure(self, options: Mapping[str, str]) -> None:
        if "max_offset_s" in options:
            value = options["max_offset_s"]
            self.max_offset_s = parse_offset(self.name, "max_offset_s", value, positive=True)

    def _setting(self, rng: random.Random) -> tuple[float, float]:
        return round(rng.uniform(-self.max_offset_s, self.max_offset_s), 3), 1.0


class ClockRate(_ClockNemesis):
    """Victims' clocks run slow or fast: a drifting oscillator, or a starved VM."""

    name = "clock-rate"
    description = "make the clocks of random node(s) run slow or fast (rate=0.5, 1.5, ...)"
    options = ("count", "rate")
    default_targets = "one"

    def __init__(self) -> None:
        super().__init__()
        self.rate: float | None = None

    def _configure(self, options: Mapping[str, str]) -> None:
        if "rate" in options:
            self.rate = parse_rate(self.name, options["rate"])

    def _setting(self, rng: random.Random) -> tuple[float, float]:
        return 0.0, self.rate if self.rate is not None else rng.choice(DEFAULT_RATES)


class ClockSkewLeader(_ClockNemesis):
    """The leader's clock: by default it runs at half speed, so its lease outlives it."""

    name = "clock-skew-leader"
    description = "skew the current leader's clock (offset_s, rate; default rate=0.5)"
    options = ("offset_s", "rate")
    default_targets = "leader"

    def __init__(self) -> None:
        super().__init__()
        self.offset_s = 0.0
        self.rate = DEFAULT_LEADER_RATE

    def _configure(self, options: Mapping[str, str]) -> None:
        if "offset_s" in options:
            self.offset_s = parse_offset(self.name, "offset_s", options["offset_s"])
        if "rate" in options:
            self.rate = parse_rate(self.name, options["rate"], allow_one=True)
        if self.offset_s == 0.0 and self.rate == 1.0:
            raise ConfigError(f"nemesis '{self.name}': offset_s=0 with rate=1 is no fault")

    def _setting(self, rng: random.Random) -> tuple[float, float]:
        return self.offset_s, self.rate


@dataclass
class _Strobe:
    """What a running strobe needs at stop: its task and its victims."""

    task: asyncio.Task[None]
    victims: list[str]


class ClockStrobe(_ClockNemesis):
    """Victims' clocks flip between +d and -d every few milliseconds until stopped."""

    name = "clock-strobe"
    description = "flip the clocks of a random subset between +offset_s and -offset_s quickly"
    options = ("count", "offset_s", "period_ms")

    def __init__(self) -> None:
        super().__init__()
        self.offset_s = DEFAULT_STROBE_OFFSET_S
        self.period_ms = DEFAULT_STROBE_PERIOD_MS

    def _configure(self, options: Mapping[str, str]) -> None:
        if "offset_s" in options:
            value = options["offset_s"]
            self.offset_s = parse_offset(self.name, "offset_s", value, positive=True)
        if "period_ms" in options:
            value = options["period_ms"]
            self.period_ms = parse_int(
                self.name, "period_ms", value, minimum=1, maximum=MAX_STROBE_PERIOD_MS
            )

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        clock = require_clock(ctx, self.name)
        victims = _victims(ctx, targets)
        if not victims:
            return None
        for node in victims:
            clock.set(node, offset_s=self.offset_s)
        # Its own generator: the flips must not shift the run's seeded draws.
        rng = random.Random(ctx.rng.getrandbits(64))
        task = asyncio.create_task(self._flip(clock, victims, rng), name=f"{self.name}-flips")
        settings = {node: (self.offset_s, 1.0) for node in victims}
        fault = clock_fault(self.name, victims, settings, {})
        fault.detail.update(offsets_s=[self.offset_s, -self.offset_s], period_ms=self.period_ms)
        fault.state = _Strobe(task, victims)
        return fault

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        if isinstance(fault.state, _Strobe):
            fault.state.task.cancel()
            await asyncio.gather(fault.state.task, return_exceptions=True)
        await super().stop(ctx, fault)

    async def _flip(self, clock: Clock, victims: list[str], rng: random.Random) -> None:
        sign = 1.0
        while True:
            # Jittered, so the flips do not beat against a node's own timers.
            await asyncio.sleep(self.period_ms * rng.uniform(0.5, 1.5) / 1000)
            sign = -sign
            for node in victims:
                clock.set(node, offset_s=sign * self.offset_s)
