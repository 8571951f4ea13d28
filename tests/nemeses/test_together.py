"""``a&b``: several faults as one, parsed, planned, started in order and healed in reverse."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.errors import ConfigError
from chaoskit.run.config import NemesisSpec, RunConfig, parse_nemeses
from chaoskit.run.plan import plan_run
from chaoskit.run.together import Together


class Recorder:
    """A fake nemesis that logs its starts and stops into a shared list."""

    def __init__(self, name: str, log: list[str], *, fault: Fault | None, boom: bool = False):
        self.name, self.description = name, f"fake {name}"
        self.log, self.fault, self.boom = log, fault, boom

    async def start(self, ctx: NemesisContext) -> Fault | None:
        if self.boom:
            raise RuntimeError(f"{self.name} cannot start")
        self.log.append(f"start {self.name}")
        return self.fault

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        self.log.append(f"stop {self.name}")


CTX = cast(NemesisContext, None)


def together(log: list[str], **parts: Fault | None) -> Together:
    """Fake parts named by keyword; the value ``BOOM`` makes a part fail to start."""
    return Together(
        [
            (name, Recorder(name, log, fault=None if f is BOOM else f, boom=f is BOOM))
            for name, f in parts.items()
        ]
    )


BOOM = Fault("boom")


def test_parts_start_in_order_and_stop_in_reverse_with_unions() -> None:
    log: list[str] = []
    nemesis = together(
        log,
        clock=Fault("clock", {"clocks": {"n1": 0.25}}),
        isolate=Fault("isolate", {"node": "n1"}, cut=[("n1", "n2"), ("n2", "n1")]),
        kill=Fault("kill", down=["n3"], cut=[("n1", "n2")]),
    )
    fault = _run(nemesis.start(CTX))
    assert fault is not None
    assert fault.fault == "clock&isolate&kill" == nemesis.name
    assert fault.down == ["n3"]
    assert fault.cut == [("n1", "n2"), ("n2", "n1")]
    assert [p["nemesis"] for p in fault.detail["parts"]] == ["clock", "isolate", "kill"]
    _run(nemesis.stop(CTX, fault))
    starts = ["start clock", "start isolate", "start kill"]
    assert log == [*starts, "stop kill", "stop isolate", "stop clock"]


def test_a_part_that_cannot_start_heals_the_started_ones_and_raises() -> None:
    log: list[str] = []
    with pytest.raises(RuntimeError, match="b cannot start"):
        _run(together(log, a=Fault("a"), b=BOOM).start(CTX))
    assert log == ["start a", "stop a"]


def test_nothing_done_is_none_and_a_part_that_did_nothing_is_left_out() -> None:
    log: list[str] = []
    assert _run(together(log, a=None, b=None).start(CTX)) is None
    fault = _run(together(log, a=None, b=Fault("b")).start(CTX))
    assert fault is not None and [p["nemesis"] for p in fault.detail["parts"]] == ["b"]


def test_the_spec_parses_round_trips_and_names_the_run() -> None:
    [spec] = parse_nemeses("clock-skew-leader:rate=0.25&isolate-leader")
    assert spec.names == ["clock-skew-leader", "isolate-leader"]
    assert str(spec) == "clock-skew-leader:rate=0.25&isolate-leader"
    assert NemesisSpec.parse(str(spec)) == spec
    config = RunConfig(nemeses=parse_nemeses("kill,clock-rate&partition"))
    assert config.nemesis_label == "kill+clock-rate-with-partition"
    with pytest.raises(ConfigError, match="appears twice"):
        NemesisSpec.parse("kill&kill")


def test_the_plan_builds_configured_parts_and_rejects_unknown_ones() -> None:
    plan = plan_run(RunConfig(nemeses=parse_nemeses("clock-skew-leader:rate=0.25&isolate-leader")))
    [(key, nemesis)] = plan.nemeses.items()
    assert key == "clock-skew-leader:rate=0.25&isolate-leader"
    assert isinstance(nemesis, Together)
    parts: Any = nemesis.parts
    assert [k for k, _ in parts] == ["clock-skew-leader:rate=0.25", "isolate-leader"]
    assert parts[0][1].rate == 0.25
    with pytest.raises(ConfigError, match="partitoin"):
        plan_run(RunConfig(nemeses=parse_nemeses("kill&partitoin")))


def _run(coro: Any) -> Any:
    return asyncio.run(coro)
