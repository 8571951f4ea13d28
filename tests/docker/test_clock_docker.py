"""Clock nemeses in containers: libfaketime of the node image on a bind-mounted file."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit.run.config import NemesisSpec, RunConfig
from chaoskit.run.controller import Controller
from chaoskit.run.plan import plan_run
from chaoskit.runtimes.containers import leftovers

pytestmark = [pytest.mark.docker, pytest.mark.slow]
NEMESIS = "clock-bump:max_offset_s=600;count=2"
TOLERANCE_S = 5.0  # the shared machine may delay a status answer by seconds


async def _skews(controller: Controller) -> dict[str, float]:
    """Each node's clock (``/status``) minus the controller's wall clock."""
    out: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=5.0) as http:
        for node in controller.nodes:
            before = time.time()
            body = (await http.get(f"{node.url}/status")).json()
            out[node.id] = float(body["clock"]) - (before + time.time()) / 2
    return out


def test_clock_bump_shows_in_the_node_status_and_the_run_is_valid(
    images: list[str], tmp_path: Path
) -> None:
    config = RunConfig(
        target="raft",
        nemeses=[NemesisSpec.parse(NEMESIS)],
        nodes=3,
        time_limit=10,
        seed=11,
        runtime="docker",
        workload="none",
        store=tmp_path / "runs",
        progress=False,
    )

    async def scenario() -> dict[str, Any]:
        controller = Controller(plan_run(config.with_seed()))
        await controller.start()
        try:
            assert all(abs(s) < TOLERANCE_S for s in (await _skews(controller)).values())
            fault_id = await controller.apply(NEMESIS)
            clocks = controller.faults.active[fault_id].fault.detail["clocks"]
            assert len(clocks) == 2
            assert any(abs(c["offset_s"]) > 10 * TOLERANCE_S for c in clocks.values())
            skews = await _skews(controller)
            for node, skew in skews.items():
                wanted = clocks.get(node, {"offset_s": 0.0})["offset_s"]
                assert abs(skew - wanted) < TOLERANCE_S, (node, skew, wanted)
            await controller.heal()
            assert all(abs(s) < TOLERANCE_S for s in (await _skews(controller)).values())
        except BaseException:
            await controller.finish(interrupted=True)
            raise
        result = await controller.finish()
        return {"results": result.results, "run_id": controller.run_id}

    done = asyncio.run(scenario())
    assert done["results"]["valid"] is True, done["results"]
    assert leftovers(done["run_id"]) == []
