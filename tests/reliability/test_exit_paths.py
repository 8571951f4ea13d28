"""Every way a run can end leaves nothing behind: no node process, no listener, no proxy
of the run on an external proxy, no libfaketime file, no registry entry, and a fault
log with a stop for every start.

The paths: a normal end, Ctrl-C (SIGINT), SIGTERM (through the CLI, as processes), an
exception while a fault is half applied or while healing (in-process, with a nemesis
that raises), and nodes that never start (tests/reliability/test_bad_input.py).
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.run.config import NemesisSpec, RunConfig
from chaoskit.run.controller import Controller
from chaoskit.run.plan import plan_run
from chaoskit.runtimes.local import find_leftovers
from tests.support.eventually import DEFAULT_TIMEOUT_S, eventually

from .conftest import (
    ExternalProxy,
    Session,
    listeners_of,
    port_listening,
    read_records,
    starts_and_stops,
)

pytestmark = pytest.mark.integration


def _assert_nothing_left(
    run_dir: Path, run_id: str, ports: list[int], node_pids: set[int], state: Path
) -> None:
    assert find_leftovers(run_id) == {}
    assert not [p for p in ports if port_listening(p)]
    assert not list((state / "active").glob("*.json"))
    assert not list(run_dir.glob("clock/*.faketime"))
    shm = {p.name for p in Path("/dev/shm").glob("*faketime_*")}
    assert not [pid for pid in node_pids if f"faketime_shm_{pid}" in shm]
    starts, stops = starts_and_stops(run_dir)
    assert starts, "the test needs at least one fault to mean anything"
    assert starts == stops


@pytest.mark.parametrize("how", ["end", "sigint", "sigterm"])
def test_cli_exit_paths_leave_nothing(
    session: Session, external_proxy: ExternalProxy, how: str
) -> None:
    limit = "8" if how == "end" else "120"
    proc = session.spawn(
        "run",
        "--nodes",
        "3",
        "--time-limit",
        limit,
        "--seed",
        "6",
        "--no-progress",
        "--nemesis",
        "partition,clock-bump",
        "--fault-seconds",
        "2",
        "--heal-seconds",
        "1",
        "--toxiproxy-url",
        external_proxy.url,
    )
    node_pids: set[int] = set()

    def faulted() -> bool:
        assert proc.poll() is None, proc.communicate()
        latest = session.cwd / "runs" / "latest"
        if not (latest / "config.json").exists():
            return False
        node_pids.update(find_leftovers(session.config()["run_id"]))
        return any(r["type"] == "start" for r in read_records(latest / "nemesis.jsonl"))

    eventually(faulted, "a fault to start")
    config = session.config()
    run_id = config["run_id"]
    assert session.registry() == [run_id]
    assert [n for n in external_proxy.proxies() if n.startswith(f"ck-{run_id}-")]
    if how != "end":
        proc.send_signal(signal.SIGINT if how == "sigint" else signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert "Traceback" not in err
    assert proc.returncode == (0 if how == "end" else 2), out + err
    ports = [int(a.rsplit(":", 1)[1]) for a in config["node_addresses"].values()]
    _assert_nothing_left(session.latest, run_id, ports, node_pids, session.state)
    assert not [n for n in external_proxy.proxies() if n.startswith(f"ck-{run_id}-")]


class _Raising:
    """Wraps a real nemesis and raises a non-chaoskit error at ``where``."""

    def __init__(self, inner: Any, where: str) -> None:
        self.inner = inner
        self.where = where
        self.name = inner.name
        self.description = "raises"
        self.default_targets = inner.default_targets

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        fault: Fault | None = await self.inner.start(ctx, targets)
        if self.where == "start":
            raise RuntimeError("boom while the partition is half applied")
        return fault

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        if self.where == "stop":
            raise RuntimeError("boom while healing")
        await self.inner.stop(ctx, fault)


@pytest.mark.parametrize("where", ["start", "stop"])
async def test_an_exception_anywhere_still_heals_and_stops(
    session: Session, tmp_path: Path, where: str
) -> None:
    config = RunConfig(
        target="raft",
        nemeses=[NemesisSpec("partition")],
        nodes=3,
        time_limit=6.0,
        seed=8,
        workload="register",
        store=tmp_path / "runs",
        progress=False,
        fault_s=1.5,
        heal_s=1.0,
    ).with_seed()
    plan = plan_run(config)
    plan.nemeses = {k: _Raising(n, where) for k, n in plan.nemeses.items()}
    controller = Controller(plan)
    me = os.getpid()
    before = set(listeners_of([me]))
    task = asyncio.create_task(controller.execute())
    during: set[tuple[str, int]] = set()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DEFAULT_TIMEOUT_S
    # The nodes start first and their links' proxies are made while they boot: wait
    # for both.
    while not task.done() and (
        len(find_leftovers(controller.run_id)) < 3 or len(set(listeners_of([me])) - before) < 7
    ):
        assert loop.time() < deadline, "the nodes never started"
        await asyncio.sleep(0.1)
    during = set(listeners_of([me])) - before
    assert len(during) >= 1 + 6  # the embedded proxy's API and a listener per link
    result = await task
    assert "internal error: RuntimeError" in (result.error or "")
    assert result.exit_code == 2
    assert not set(listeners_of([me])) & during
    ports = [n.port for n in controller.nodes]
    if where == "start":
        # The half-applied partition has no start record; the network healed it anyway.
        assert (
            controller.cluster.network is not None
            and controller.cluster.network.faulty_links() == []
        )
        assert read_records(controller.run_dir / "nemesis.jsonl") == []
        assert find_leftovers(controller.run_id) == {}
        assert not list((session.state / "active").glob("*.json"))
    else:
        _assert_nothing_left(controller.run_dir, controller.run_id, ports, set(), session.state)
    assert not [p for p in ports if port_listening(p)]
