"""The Controller: one run from start to verdict (docs/architecture.md, the data flow).

start the proxy and the nodes (launch.py) -> observe, drive clients, apply the fault
schedule (faults.py, schedule.py) -> final phase (heal everything, wait for a leader,
final reads) -> teardown -> checkers -> results.json, report.html, junit.xml
(record.py).

Whatever happens (Ctrl-C, SIGTERM, an exception, a node that never starts), the
teardown heals every fault, stops every node and closes every listener before the
controller exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
import uuid

from chaoskit.checkers.checking import run_checkers
from chaoskit.checkers.stats import SAMPLING_SLACK
from chaoskit.clients.http import node_client
from chaoskit.clients.runner import ClientRunner
from chaoskit.core.records import HISTORY, NEMESIS, OBSERVATIONS
from chaoskit.core.runtime import Runtime
from chaoskit.core.target import NodeInfo
from chaoskit.errors import ChaoskitError, ConfigError, SetupError
from chaoskit.observe.observer import Observer
from chaoskit.proxy._watch import FaultApiWatch
from chaoskit.run.config import NemesisSpec, RunConfig
from chaoskit.run.faults import FaultBook
from chaoskit.run.launch import Cluster, LaunchContext, launch
from chaoskit.run.live import LiveWatch, OnAnomaly
from chaoskit.run.plan import RunPlan, build_nemesis, plan_run
from chaoskit.run.progress import Progress, Snapshot
from chaoskit.run.record import RunRecord, log_to_run, stop_logging
from chaoskit.run.result import RunResult
from chaoskit.run.schedule import Step, build_schedule, schedule_rng
from chaoskit.run.settings import repeat_command
from chaoskit.run.timings import TIMINGS, Timings
from chaoskit.store.rundir import LOGS, RESULTS, create_run_dir, load_run, write_json
from chaoskit.store.streams import JsonlWriter, RunClock

#: Longest wait for the last observations after the final reads, and how many
#: rounds of every node it waits for.
SETTLE_S = 0.5
SETTLE_ROUNDS = 3
#: Longest wait for one teardown step (twice that for healing and stopping nodes).
TEARDOWN_STEP_S = 30.0


class Controller:
    """Carries out one planned run; ``await execute()`` returns its ``RunResult``."""

    def __init__(self, plan: RunPlan, *, on_anomaly: OnAnomaly | None = None) -> None:
        self.timings = Timings()
        self.plan = plan
        self.config = plan.config
        self.seed = int(self.config.seed or 0)
        self.run_id = uuid.uuid4().hex[:10]
        self.clock = RunClock()
        self.run_dir = create_run_dir(
            self.config.store, plan.target.name, self.config.nemesis_label
        )
        self.history = JsonlWriter(self.run_dir / HISTORY)
        self.observations = JsonlWriter(self.run_dir / OBSERVATIONS)
        self.nemesis_log = JsonlWriter(self.run_dir / NEMESIS)
        self.cluster = Cluster()
        #: The run's fault-API token; what others change goes into nemesis.jsonl.
        self.watch = FaultApiWatch(
            self.nemesis_log.write, self.clock.now, prefix=f"ck-{self.run_id}-"
        )
        self.faults = FaultBook(
            plan.nemeses, self.cluster, self.nemesis_log, self.clock, self.seed, self._audit
        )
        self.record = RunRecord(plan, self.run_dir, self.run_id, time.time())
        self.clients: ClientRunner | None = None
        self._client_task: asyncio.Task[None] | None = None
        self._stop_clients = asyncio.Event()
        self.progress = Progress(enabled=self.config.progress)
        #: The live checks; ``on_anomaly`` hears of each anomaly the moment it is found.
        self.live = LiveWatch(
            list(plan.checkers),
            clock=self.clock,
            progress=self.progress,
            fail_fast=self.config.fail_fast,
            on_anomaly=on_anomaly,
        )
        self._log_handler = log_to_run(self.run_dir)
        self.phase = "starting"
        self.end_time: int | None = None

    @property
    def nodes(self) -> list[NodeInfo]:
        return self.cluster.nodes

    @property
    def observer(self) -> Observer | None:
        return self.cluster.observer

    @property
    def runtime(self) -> Runtime | None:
        return self.cluster.runtime

    # -- the run ---------------------------------------------------------------------

    async def execute(self) -> RunResult:
        """The whole run: start, faults under load for the time limit, finish.

        Should the asynchronous teardown itself be cut short (a second Ctrl-C or
        SIGTERM), the nodes are still killed before the exception leaves; the run stays
        in the registry of active runs for ``chaoskit cleanup`` to finish.
        """
        try:
            return await self._execute()
        except BaseException:
            if self.cluster.runtime is not None:
                with contextlib.suppress(Exception):
                    self.cluster.runtime.kill_now()
            raise

    async def _execute(self) -> RunResult:
        interrupted = False
        error: str | None = None
        try:
            await self.start()
        except asyncio.CancelledError:
            _uncancel()
            return await self.finish(interrupted=True)
        try:
            await self._main_phase()
        except asyncio.CancelledError:
            _uncancel()
            interrupted = True
        except ChaoskitError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a bug still heals, stops and stores the run
            error = f"internal error: {type(exc).__name__}: {exc}"
        return await self.finish(interrupted=interrupted, error=error)

    async def start(self) -> None:
        """Start the proxy and the nodes and begin observing (faults may follow)."""
        self._write_config(finished=False)
        self._register()
        context = LaunchContext(
            plan=self.plan,
            run_dir=self.run_dir,
            run_id=self.run_id,
            seed=self.seed,
            observations=self.observations,
            run_clock=self.clock,
            watch=self.watch,
            nodes_known=self._nodes_known,
            warn=self.progress.warn,
            timings=self.timings,
        )
        try:
            await launch(self.cluster, context)
            self._register()
        except ChaoskitError as exc:
            await self._teardown()
            raise SetupError(f"{exc} (logs in {self.run_dir / LOGS})") from exc
        except BaseException:
            await self._teardown()
            raise
        # Everything allocated so far (imports, the cluster) lives for the whole run:
        # frozen, the full collections of the run no longer walk it, which took the
        # observer's loop 50-350 ms at a time on a loaded machine. Undone in finish().
        gc.freeze()
        self.phase = "running"

    def _nodes_known(self) -> None:
        self._write_config(finished=False)
        self._register()
        streams = (self.observations, self.nemesis_log, self.history)
        self.live.start(self.record.stored, streams)

    async def finish(self, *, interrupted: bool = False, error: str | None = None) -> RunResult:
        """Final phase (unless cut short), teardown, checkers, results and reports."""
        self.timings.mark("main_end")
        try:
            if not interrupted and error is None:
                await self._final_phase()
        except asyncio.CancelledError:
            _uncancel()
            interrupted = True
        except ChaoskitError as exc:
            error = str(exc)
        finally:
            await self._teardown()
        self._write_config(finished=not interrupted and error is None)
        with self.timings.step("check"):
            results = run_checkers(load_run(self.run_dir), self.plan.checkers)
        if error:
            results["error"] = error
        self.live.add_to(results)
        write_json(self.run_dir / RESULTS, results)
        with self.timings.step("reports"):
            for warning in self.record.write_reports():
                self.progress.warn(warning)
        self._write_timings()
        gc.unfreeze()
        return RunResult(
            self.run_dir,
            results,
            seed=self.seed,
            command=repeat_command(self.config),
            interrupted=interrupted,
            error=error,
        )

    async def apply(self, name: str) -> int:
        """Start one fault of the nemesis ``name`` now (for tests that drive faults)."""
        if name not in self.faults.nemeses:
            nemesis = build_nemesis(NemesisSpec.parse(name))
            nemesis.check_cluster(self.config.nodes)  # as the plan checks scheduled ones
            self.faults.nemeses[name] = nemesis
        active = await self.faults.start(name)
        if active is None:
            raise ConfigError(f"nemesis '{name}' found nothing to do")
        return active.id

    async def heal(self, name: str | None = None) -> None:
        """Stop one active fault, or every one."""
        for key in [name] if name else list(self.faults.active):
            await self.faults.stop(key)

    async def _main_phase(self) -> None:
        steps = self._schedule()
        write_json(self.run_dir / "schedule.json", [s.to_json() for s in steps])
        self.start_load()
        self.timings.mark("main_start")
        self.progress.start(self._snapshot)
        try:
            await self._run_schedule(steps)
        finally:
            await self.stop_load()
            self.progress.stop()

    def start_load(self) -> None:
        """Start the workload's clients in the background (none for ``none``)."""
        assert self.cluster.observer is not None
        clients = self.plan.concurrency + self.plan.bound_clients
        if clients <= 0 or self._client_task is not None:
            return
        self.clients = ClientRunner(
            target=self.plan.target,
            nodes=self.cluster.nodes,
            workload=self.plan.workload,
            history=self.history,
            clock=self.clock,
            http=node_client(limit=100),
            concurrency=self.plan.concurrency,
            bound=self.plan.bound_clients,
            rng=random.Random(f"{self.seed}:clients"),
            op_timeout=max(1.0, 4 * self.plan.target.election_timeout),
            leader=self.cluster.observer,
        )
        self._stop_clients = asyncio.Event()
        self._client_task = asyncio.create_task(
            self.clients.run(self._stop_clients), name="clients"
        )

    async def stop_load(self) -> None:
        """Stop the clients; each finishes (or times out) the op it has in flight."""
        if self._client_task is None:
            return
        self._stop_clients.set()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(self._client_task, 5.0)
        self._client_task = None

    def _schedule(self) -> list[Step]:
        assert self.config.fault_s is not None and self.config.heal_s is not None
        return build_schedule(
            list(self.plan.nemeses),
            time_limit=self.config.time_limit,
            fault_s=self.config.fault_s,
            heal_s=self.config.heal_s,
            rng=schedule_rng(self.seed),
            settle_s=self.plan.target.settle_s,
        )

    async def _run_schedule(self, steps: list[Step]) -> None:
        loop = asyncio.get_running_loop()
        origin = loop.time()
        for step in steps:
            if await self._pause(origin + step.at - loop.time()):
                return
            if step.action == "start":
                await self.faults.start(step.nemesis)
            else:
                await self.faults.stop(step.nemesis)
        await self._pause(origin + self.config.time_limit - loop.time())

    async def _pause(self, delay: float) -> bool:
        """Wait ``delay`` seconds, less when ``--fail-fast`` stops the run (then True).
        Fault steps are never cut in half: the schedule stops between them."""
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self.live.stop.wait()
        return self.live.stop.is_set()

    def _snapshot(self) -> Snapshot | None:
        """What the live display shows now."""
        observer = self.cluster.observer
        if observer is None:
            return None
        elapsed = self.clock.now() / 1e9
        found = self.live.anomalies
        return Snapshot(
            title=f"{self.plan.target.name} / {self.config.nemesis_label}",
            seed=self.seed,
            elapsed_s=elapsed,
            remaining_s=max(0.0, self.config.time_limit - elapsed),
            leader=observer.current_leader(),
            roles=observer.roles(),
            faults=[f"{a.fault.fault}#{a.id}" for a in self.faults.active.values()],
            ops=self.clients.ops_done if self.clients is not None else 0,
            anomalies=len(found),
            sampling_p99_ms=observer.recent_p99_ms(),
            sampling_goal_ms=observer.interval * 1000 * SAMPLING_SLACK,
            last_anomaly=f"{found[-1].get('kind')} {' '.join(found[-1].get('nodes', []))}"
            if found
            else "",
        )

    async def _final_phase(self) -> None:
        """Heal everything, wait for a leader, run the final reads."""
        self.phase = "final"
        with self.timings.step("final.heal"):
            await self.faults.heal_everything(self.progress.warn)
        for writer in (self.history, self.observations, self.nemesis_log):
            writer.sync()
        wait = max(5.0, 3 * self.plan.election_deadline)
        observer = self.cluster.observer
        assert observer is not None
        with self.timings.step("final.leader"):
            await observer.wait_for_leader(wait)
        with self.timings.step("final.reads"):
            if self.clients is not None:
                await self.clients.final(timeout=wait)
        # The run ends on what every node said after the final reads, and a leader
        # elected at the final heal shows the streak the failover figure needs.
        with self.timings.step("final.settle"):
            await observer.rounds(SETTLE_ROUNDS, SETTLE_S)

    async def _teardown(self) -> None:
        """Runs on every exit path: heal, stop nodes, close listeners, flush streams.

        Each step that talks to something is bounded, so one that hangs cannot keep the
        rest from running; if healing or closing the network failed, the run stays in
        the registry of active runs for ``chaoskit cleanup``.
        """
        step, timed = TEARDOWN_STEP_S, self.timings.step
        with timed("teardown.clients"), contextlib.suppress(Exception):
            await asyncio.wait_for(self.stop_load(), step)
        with timed("teardown.heal"), contextlib.suppress(Exception):
            await asyncio.wait_for(self.faults.heal_everything(self.progress.warn), 2 * step)
        network = self.cluster.network
        healed = network is None or not network.faulty_links()
        if self.clients is not None:
            with contextlib.suppress(Exception):
                await self.clients.http.aclose()
        with contextlib.suppress(Exception):
            await self.plan.target.aclose()
        with timed("teardown.audit"), contextlib.suppress(Exception):
            await asyncio.wait_for(self._audit(), step)
        self.watch.close()
        closed = await self.cluster.close(step, self.timings)
        self.end_time = self.clock.now()
        for writer in (self.history, self.observations, self.nemesis_log):
            writer.close()
        stop_logging(self._log_handler)
        if (healed and closed) or network is None:
            self.record.unregister()

    async def _audit(self) -> None:
        """Record what others changed on the run's proxies (after every heal)."""
        try:
            await self.watch.check()
        except ChaoskitError as exc:
            self.progress.warn(f"cannot audit the fault proxy: {exc}")

    def _register(self) -> None:
        warning = self.record.register(self.cluster)
        if warning:
            self.progress.warn(warning)

    def _write_timings(self) -> None:
        observer = self.cluster.observer
        if observer is not None and observer.first_leader is not None:
            self.timings.marks["first_leader"] = round(observer.first_leader / 1e9, 4)
        self.timings.mark("done")
        write_json(self.run_dir / TIMINGS, self.timings.to_json())

    def _write_config(self, *, finished: bool) -> None:
        self.record.write_config(self.cluster, finished=finished, end_time=self.end_time)


def _uncancel() -> None:
    """We handled the cancellation (Ctrl-C): let the cleanup that follows run normally."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def execute(config: RunConfig, *, on_anomaly: OnAnomaly | None = None) -> RunResult:
    """Plan and carry out one run; ``on_anomaly`` hears of each anomaly found live."""
    plan = plan_run(config.with_seed())
    return await Controller(plan, on_anomaly=on_anomaly).execute()
