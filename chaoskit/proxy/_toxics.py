"""Toxics as data, and the per-connection stages that apply them.

A toxic's effect is computed, never slept: a stage turns an input event (a chunk of
bytes, or the end of the stream, with the time it reached the stage) into output
events stamped with the time they leave it. One direction of a link chains its
stages and hands the resulting schedule to the event loop's timers, so no toxic
blocks the loop or needs a task of its own, and all of the arithmetic below is
unit-tested without a socket.

Event kinds::

    data   bytes to write to the far side
    eof    the source half-closed: half-close the far side (shutdown SHUT_WR)
    close  a toxic ends the connection: close both sockets (FIN)
    reset  a toxic resets the connection: abort both sockets with RST

Every stage keeps its output in time order (TCP cannot reorder), so a chunk delayed
by jitter holds back the chunks behind it exactly as Toxiproxy's pipeline does.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

Kind = Literal["data", "eof", "close", "reset"]
Stream = Literal["upstream", "downstream"]
STREAMS: tuple[Stream, ...] = ("upstream", "downstream")

#: Attributes of every toxic type chaoskit implements, with their defaults (Toxiproxy's
#: zero values). Units: ms for latency/jitter/delay/timeout, KB/s (1000 bytes) for
#: rate, bytes for sizes, and microseconds for the slicer's ``delay``.
ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}

INT64_MAX = 2**63 - 1


class Event(NamedTuple):
    """Something a direction must do at ``time`` (event-loop seconds)."""

    time: float
    kind: Kind
    data: bytes = b""


@dataclass(frozen=True)
class ToxicSpec:
    """One toxic as the API shows it; ``revision`` counts updates (for seeding)."""

    name: str
    type: str
    stream: Stream = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, int] = field(default_factory=dict)
    revision: int = 0

    def to_json(self) -> dict[str, Any]:
        """The toxic in Toxiproxy's JSON shape."""
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


def validate_attributes(toxic_type: str, attributes: dict[str, int]) -> str | None:
    """Why these attributes are invalid for ``toxic_type``, or None when they are fine.

    Toxiproxy accepts nonsense such as a negative latency and then misbehaves;
    chaoskit refuses it up front so a typo in a fault schedule is a 400, not a hang.
    """
    for key, value in attributes.items():
        if value < 0:
            return f"{toxic_type}: attribute '{key}' must not be negative (got {value})"
    if toxic_type == "slicer":
        average, variation = attributes["average_size"], attributes["size_variation"]
        if average < 1:
            return "slicer: attribute 'average_size' must be at least 1"
        if variation >= average:
            return "slicer: attribute 'size_variation' must be less than 'average_size'"
    return None


class Stage:
    """The identity toxic; subclasses override ``data``/``start``/``end``.

    ``last`` is the time of this stage's latest output: outputs never go back in time.
    After a terminal event (eof, close, reset) the stage passes nothing more.
    """

    def __init__(self) -> None:
        self.last = 0.0
        self.finished = False

    def start(self, now: float) -> list[Event]:
        """Events the toxic causes by itself once installed (timers)."""
        return []

    def push(self, event: Event) -> list[Event]:
        """Feed one event that reached this stage at ``event.time``."""
        if self.finished:
            return []
        if event.kind == "data":
            return self.data(event.time, event.data)
        return self.end(event)

    def data(self, t: float, data: bytes) -> list[Event]:
        return [self.emit(t, "data", data)]

    def end(self, event: Event) -> list[Event]:
        return [self.emit(event.time, event.kind)]

    def emit(self, t: float, kind: Kind, data: bytes = b"") -> Event:
        """An output event no earlier than the previous one; terminal kinds finish."""
        t = max(t, self.last)
        self.last = t
        if kind != "data":
            self.finished = True
        return Event(t, kind, data)


class Latency(Stage):
    """Each chunk leaves ``latency`` ± ``jitter`` ms after it arrived (pipelined)."""

    def __init__(self, attrs: dict[str, int], rng: random.Random) -> None:
        super().__init__()
        self.latency = attrs["latency"] / 1000
        self.jitter = attrs["jitter"] / 1000
        self.rng = rng

    def data(self, t: float, data: bytes) -> list[Event]:
        delay = self.latency
        if self.jitter > 0:
            delay = max(0.0, delay + self.rng.uniform(-self.jitter, self.jitter))
        return [self.emit(t + delay, "data", data)]


class Bandwidth(Stage):
    """At most ``rate`` KB/s; big chunks leave in slices of 100 ms worth of bytes."""

    def __init__(self, attrs: dict[str, int]) -> None:
        super().__init__()
        self.rate = attrs["rate"] * 1000  # bytes per second; 0 means unlimited
        self.busy = 0.0

    def data(self, t: float, data: bytes) -> list[Event]:
        if self.rate <= 0:
            return [self.emit(t, "data", data)]
        start = max(t, self.busy)
        piece = max(1, self.rate // 10)
        out = []
        for offset in range(0, len(data), piece):
            chunk = data[offset : offset + piece]
            sent = offset + len(chunk)
            out.append(self.emit(start + sent / self.rate, "data", chunk))
        self.busy = start + len(data) / self.rate
        return out


class SlowClose(Stage):
    """Data passes; the end of the stream (or a close) is held back ``delay`` ms."""

    def __init__(self, attrs: dict[str, int]) -> None:
        super().__init__()
        self.delay = attrs["delay"] / 1000

    def end(self, event: Event) -> list[Event]:
        return [self.emit(event.time + self.delay, event.kind)]


class Timeout(Stage):
    """Swallow all data; close the connection after ``timeout`` ms (0: never).

    With 0 on both streams this is the silent "hang" partition: TCP stays up and
    nothing gets through, so only the peers' own timeouts notice.
    """

    def __init__(self, attrs: dict[str, int]) -> None:
        super().__init__()
        self.timeout = attrs["timeout"] / 1000

    def start(self, now: float) -> list[Event]:
        if self.timeout > 0:  # not emit(): the stream's own end may still pass first
            return [Event(now + self.timeout, "close")]
        return []

    def data(self, t: float, data: bytes) -> list[Event]:
        return []


class ResetPeer(Stage):
    """On the first data (or end of stream), reset the connection ``timeout`` ms later.

    As in Toxiproxy the timer starts with traffic, not with the toxic, and the data
    that triggered it is dropped.
    """

    def __init__(self, attrs: dict[str, int]) -> None:
        super().__init__()
        self.timeout = attrs["timeout"] / 1000

    def data(self, t: float, data: bytes) -> list[Event]:
        return [self.emit(t + self.timeout, "reset")]

    def end(self, event: Event) -> list[Event]:
        kind: Kind = "reset" if event.kind == "eof" else event.kind
        return [self.emit(event.time + self.timeout, kind)]


class Slicer(Stage):
    """Cut chunks into pieces of about ``average_size`` bytes, ``delay`` µs apart."""

    def __init__(self, attrs: dict[str, int], rng: random.Random) -> None:
        super().__init__()
        self.average = attrs["average_size"]
        self.variation = attrs["size_variation"]
        self.delay = attrs["delay"] / 1_000_000
        self.rng = rng
        self.busy = 0.0

    def cuts(self, start: int, end: int) -> list[int]:
        """Offsets splitting [start, end) into evenly varying pieces (Toxiproxy's shape)."""
        if (end - start) - self.average <= self.variation:
            return [start, end]
        wobble = self.rng.randint(-self.variation, self.variation) if self.variation else 0
        mid = start + (end - start) // 2 + wobble
        return self.cuts(start, mid)[:-1] + self.cuts(mid, end)

    def data(self, t: float, data: bytes) -> list[Event]:
        cuts = self.cuts(0, len(data))
        when = max(t, self.busy)
        out = []
        for lo, hi in itertools.pairwise(cuts):
            out.append(self.emit(when, "data", data[lo:hi]))
            when += self.delay
        self.busy = when
        return out


class LimitData(Stage):
    """Pass ``bytes`` bytes in total, then close the connection.

    ``state`` outlives the stage: the count survives toxic updates and re-chaining,
    as Toxiproxy's per-link toxic state does.
    """

    def __init__(self, attrs: dict[str, int], state: dict[str, int]) -> None:
        super().__init__()
        self.limit = attrs["bytes"]
        self.state = state
        state.setdefault("sent", 0)

    def data(self, t: float, data: bytes) -> list[Event]:
        remaining = max(0, self.limit - self.state["sent"])
        out = []
        if remaining and data:
            chunk = data[:remaining]
            self.state["sent"] += len(chunk)
            out.append(self.emit(t, "data", chunk))
        if self.state["sent"] >= self.limit:
            out.append(self.emit(t, "close"))
        return out


def make_stage(spec: ToxicSpec, rng: random.Random, state: dict[str, int]) -> Stage:
    """The stage applying ``spec`` on one direction of one connection."""
    attrs = {**ATTRIBUTES[spec.type], **spec.attributes}
    match spec.type:
        case "latency":
            return Latency(attrs, rng)
        case "bandwidth":
            return Bandwidth(attrs)
        case "slow_close":
            return SlowClose(attrs)
        case "timeout":
            return Timeout(attrs)
        case "reset_peer":
            return ResetPeer(attrs)
        case "slicer":
            return Slicer(attrs, rng)
        case "limit_data":
            return LimitData(attrs, state)
    raise ValueError(f"unknown toxic type {spec.type!r}")  # validated at the API


def run_chain(stages: list[Stage], events: Iterable[Event]) -> list[Event]:
    """Pass events through every stage in order; what comes out is to be carried out."""
    current = list(events)
    for stage in stages:
        if not current:
            break
        following: list[Event] = []
        for event in current:
            following.extend(stage.push(event))
        current = following
    return current


def start_chain(stages: list[Stage], now: float) -> list[Event]:
    """Start every stage's timers and run what they emit through the later stages."""
    out: list[Event] = []
    for index, stage in enumerate(stages):
        out.extend(run_chain(stages[index + 1 :], stage.start(now)))
    return sorted(out, key=lambda event: event.time)
