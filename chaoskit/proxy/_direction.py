"""One direction of a proxied connection: bytes from one socket to the other through
the direction's toxic stages, with flow control on both ends.

With no toxic, what was read is written straight into the other socket's transport;
with toxics, a chunk runs through the pure stages of ``_toxics`` and the events they
schedule are carried out by event-loop timers. The direction stops reading its
source while the destination's write buffer is above its high-water mark, or while
more than ``BACKLOG_HIGH`` bytes wait in its schedule, and resumes below the marks.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import random
from collections import deque
from typing import Protocol

from chaoskit.proxy._toxics import (
    Event,
    Stage,
    Stream,
    ToxicSpec,
    make_stage,
    run_chain,
    start_chain,
)

log = logging.getLogger("chaoskit.proxy")


#: Bytes waiting in a direction's schedule above which it stops reading its source.
BACKLOG_HIGH = 1 << 20
BACKLOG_LOW = 1 << 18


class Endpoint(Protocol):
    """One socket of the connection, as a direction sees it."""

    transport: asyncio.Transport | None
    write_paused: bool


class Owner(Protocol):
    """The connection a direction belongs to."""

    seed_key: str

    def direction_done(self) -> None: ...
    def close(self) -> None: ...
    def reset(self) -> None: ...


class Direction:
    """Bytes from ``src`` to ``dst`` through this direction's toxic stages."""

    def __init__(self, link: Owner, stream: Stream, src: Endpoint, dst: Endpoint) -> None:
        self.link = link
        self.stream = stream
        self.src = src
        self.dst = dst
        self.loop = asyncio.get_running_loop()
        self.stages: list[Stage] = []
        self.state: dict[str, dict[str, int]] = {}
        self.queue: deque[Event] = deque()
        self.backlog = 0
        self.timer: asyncio.TimerHandle | None = None
        self.reading_paused = False
        self.eof_seen = False
        self.done = False

    # -- input -------------------------------------------------------------------
    def feed(self, data: bytes | memoryview) -> bool:
        """Forward (or schedule) ``data``, a view of the source's read buffer.

        Returns whether the destination may still hold the view after this call (its
        write buffer was not empty after a direct write): the source must then stop
        reusing that buffer. asyncio's selector transports copy what they cannot send
        at once, but nothing promises it.
        """
        if self.done:
            return False
        if not self.stages and not self.queue:
            transport = self.dst.transport
            if transport is not None:
                transport.write(data)  # the fast path: no toxic, nothing queued
                return transport.get_write_buffer_size() > 0
            return False
        self.enqueue(run_chain(self.stages, [Event(self.loop.time(), "data", bytes(data))]))
        return False

    def feed_eof(self) -> None:
        self.eof_seen = True
        if self.done:
            return
        self.enqueue(run_chain(self.stages, [Event(self.loop.time(), "eof")]))

    # -- toxics ------------------------------------------------------------------
    def set_toxics(self, specs: list[ToxicSpec]) -> None:
        """Install the proxy's current toxics for this stream on this open connection.

        What is already scheduled goes out now (a toxic interrupted in Toxiproxy also
        lets its held data go) and pending closes are dropped; then every toxic starts
        afresh from now. Only limit_data's byte count carries over, and the draws stay
        reproducible because they are seeded per connection, toxic and revision.
        """
        self.flush()
        if self.done:
            return
        self.state = {spec.name: self.state.get(spec.name, {}) for spec in specs}
        stages = (self.new_stage(spec) for spec in specs)
        self.stages = [stage for stage in stages if stage is not None]
        self.enqueue(start_chain(self.stages, self.loop.time()))

    def new_stage(self, spec: ToxicSpec) -> Stage | None:
        """A stage for ``spec``, or None when its toxicity draw says "not here"."""
        base = f"{self.link.seed_key}/{self.stream}/{spec.name}/{spec.revision}"
        if spec.toxicity < 1.0 and random.Random(base + "/toxicity").random() >= spec.toxicity:
            return None
        return make_stage(spec, random.Random(base + "/draws"), self.state[spec.name])

    # -- output ------------------------------------------------------------------
    def enqueue(self, events: list[Event]) -> None:
        """Add events in time order (a toxic's timer may fire before queued data)."""
        for event in events:
            if not self.queue or self.queue[-1].time <= event.time:
                self.queue.append(event)
            else:
                index = bisect.bisect_right(self.queue, event.time, key=lambda e: e.time)
                self.queue.insert(index, event)
            self.backlog += len(event.data)
        self.run_due()

    def run_due(self) -> None:
        """Carry out every event whose time has come; arm a timer for the next one."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        now = self.loop.time()
        while self.queue and not self.done:
            head = self.queue[0]
            if head.time > now:
                self.timer = self.loop.call_at(head.time, self.run_due)
                break
            self.queue.popleft()
            self.carry_out(head)
        self.update_reading()

    def flush(self) -> None:
        """Carry out all scheduled data and end-of-stream now; drop scheduled closes."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        while self.queue and not self.done:
            event = self.queue.popleft()
            if event.kind in ("data", "eof"):
                self.carry_out(event)
        self.queue.clear()
        self.backlog = 0
        self.update_reading()

    def carry_out(self, event: Event) -> None:
        self.backlog -= len(event.data)
        transport = self.dst.transport
        if event.kind == "data":
            if transport is not None and not transport.is_closing():
                transport.write(event.data)
        elif event.kind == "eof":
            self.done = True
            if transport is not None and not transport.is_closing() and transport.can_write_eof():
                transport.write_eof()
            self.link.direction_done()
        elif event.kind == "close":
            self.link.close()
        else:
            self.link.reset()

    def update_reading(self) -> None:
        """Pause or resume reading the source to bound memory (see module docstring)."""
        transport = self.src.transport
        if transport is None or transport.is_closing() or self.eof_seen:
            return
        full = self.backlog > BACKLOG_HIGH or (self.reading_paused and self.backlog > BACKLOG_LOW)
        should_pause = full or self.dst.write_paused
        if should_pause and not self.reading_paused:
            transport.pause_reading()
            self.reading_paused = True
        elif not should_pause and self.reading_paused:
            transport.resume_reading()
            self.reading_paused = False

    def stop(self) -> None:
        self.done = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.queue.clear()
        self.backlog = 0
