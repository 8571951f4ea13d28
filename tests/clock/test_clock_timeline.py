"""A bumped node does not distort the recorded timeline (docs/architecture.md, "Record formats").

The real Observer polls a node under libfaketime while that node's clock jumps
+300 s and then -300 s; the node's own answers show the jumps, the recorded
``time`` of every observation stays on the controller's monotonic clock.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any, cast

import httpx
import pytest

from chaoskit.clock.faketime import FaketimeClock
from chaoskit.core.target import NodeInfo, Status
from chaoskit.observe.observer import Observer
from chaoskit.store.streams import JsonlWriter, RunClock, read_jsonl

pytestmark = pytest.mark.integration


class ClockReportingTarget:
    """Asks the child for its status and keeps the wall time it reported."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.node_times: list[float] = []

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        answer = (await http.get(f"http://127.0.0.1:{self.port}/", timeout=timeout)).json()
        self.node_times.append(answer["time"])
        return Status(role=answer["role"], term=answer["term"], leader=answer["leader"])


async def test_a_bumped_node_leaves_the_timeline_alone(
    clock: FaketimeClock, spawn, tmp_path: Path
) -> None:
    child = spawn(clock.env_for("n1"), http=True)
    target = ClockReportingTarget(child.port)
    node = NodeInfo("n1", 0, "127.0.0.1", {"api": child.port}, tmp_path)
    writer = JsonlWriter(tmp_path / "observations.jsonl")
    run_clock = RunClock()
    observer = Observer(cast(Any, target), [node], writer, run_clock, interval=0.02, timeout=2.0)

    real_start = time.monotonic()
    observer.start()
    try:
        await asyncio.sleep(0.7)
        clock.set("n1", offset_s=300)
        await asyncio.sleep(0.7)
        clock.set("n1", offset_s=-300)
        await asyncio.sleep(0.7)
    finally:
        await observer.stop()
        writer.close()
    real_span_ns = (time.monotonic() - real_start) * 1e9

    # The node saw its clock jump both ways ...
    jumps = [b - a for a, b in itertools.pairwise(target.node_times)]
    assert max(jumps) > 250 and min(jumps) < -550, jumps

    # ... the recorded timeline did not: ordered, no gap, no jump, within real time.
    records = [r for r in read_jsonl(tmp_path / "observations.jsonl").records if r["node"] == "n1"]
    times = [r["time"] for r in records]
    assert len(times) > 10 and all(r["role"] == "leader" for r in records)
    assert times == sorted(times)
    assert times[-1] - times[0] <= real_span_ns
    assert max(b - a for a, b in itertools.pairwise(times)) < 2e9
