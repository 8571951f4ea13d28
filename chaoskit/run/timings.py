"""Where a run's fixed time goes: the steps of start-up, final phase and teardown.

Every run pays for more than its time limit: leasing ports, starting the fault proxy
and one proxy per link, spawning the nodes and waiting for them to answer, then
healing, final reads, stopping everything, checking and writing the reports. Those
seconds are what makes a short chaos test slow, so each step is timed (wall clock)
and stored with the run in ``timings.json``; ``benchmarks/setup_teardown.py`` prints
them.

- ``steps``: seconds per named step, in the order they ran (``launch.ports``,
  ``launch.proxy_links``, ``teardown.nodes``, ...); a step that runs twice adds up.
  ``cpu``: the controller's CPU seconds in each step: on a loaded machine the wall
  time says how long the step waited, the CPU what it cost.
- ``marks``: seconds since the controller was created at which a moment was reached
  (``main_start``, ``first_leader``, ``main_end``, ``done``); ``process_start`` is
  negative: how long the process had run before (the CLI's own start-up).
- ``setup_s``: controller created -> main phase starts; ``teardown_s``: main phase
  ends -> results and reports written (final phase, teardown, checks, reports).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TIMINGS = "timings.json"


class Timings:
    """Named step durations and marks of one run, measured on the wall clock."""

    def __init__(self) -> None:
        self._origin = time.perf_counter()
        self.steps: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.marks: dict[str, float] = {}
        age = process_age()
        if age is not None:
            self.marks["process_start"] = round(-age, 4)

    def now(self) -> float:
        """Seconds since the controller was created."""
        return time.perf_counter() - self._origin

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Time the body as step ``name`` (it counts even when the body raises)."""
        started, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            spent = time.perf_counter() - started
            self.steps[name] = round(self.steps.get(name, 0.0) + spent, 4)
            used = time.process_time() - cpu
            self.cpu[name] = round(self.cpu.get(name, 0.0) + used, 4)

    def mark(self, name: str) -> None:
        """Note the first time moment ``name`` was reached."""
        self.marks.setdefault(name, round(self.now(), 4))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "steps": dict(self.steps),
            "cpu": dict(self.cpu),
            "marks": dict(self.marks),
        }
        if "main_start" in self.marks:
            out["setup_s"] = self.marks["main_start"]
        if "main_end" in self.marks and "done" in self.marks:
            out["teardown_s"] = round(self.marks["done"] - self.marks["main_end"], 4)
        return out


def process_age() -> float | None:
    """Seconds since this process started (Linux: /proc), None where unknown."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started
    except (OSError, ValueError, IndexError, AttributeError):
        return None
