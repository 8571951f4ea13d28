"""The Controller: one run from start to verdict (docs/architecture.md, the data flow).

start the proxy and the nodes (launch.py) -> observe, drive clients, run the fault
steps (a ``--scenario`` file, or the random schedule of the seed: schedule.py) through
the scenario engine and the fault book (faults.py), keeping the tape -> final phase
(heal everything, wait for a leader, final reads) -> teardown -> checkers ->
results.json, report.html, junit.xml (record.py).

Whatever happens (Ctrl-C, SIGTERM, an exception, a node that never starts), the
teardown heals every fault, stops every node and closes every listener before the
controller exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid

from chaoskit.checkers.checking import run_checkers
from chaoskit.checkers.stats import SAMPLING_SLACK
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
from chaoskit.run.load import ClientLoad
from chaoskit.run.plan import RunPlan, build_nemeses, plan_run
from chaoskit.run.progress import Progress, Snapshot
from chaoskit.run.record import RunRecord, log_to_run, stop_logging
from chaoskit.run.result import RunResult
from chaoskit.run.schedule import schedule_rng, schedule_steps
from chaoskit.run.settings import repeat_command
from chaoskit.run.timings import TIMINGS, Timings
from chaoskit.scenario.engine import Engine
from chaoskit.scenario.model import Step
from chaoskit.scenario.tape import TAPE, Tape
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
        self.load = ClientLoad(plan, self.cluster, self.history, self.clock, self.seed)
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
        #: The scenario engine, made when faults begin (it needs the observer).
        self.engine: Engine | None = None

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

    @property
    def clients(self) -> ClientRunner | None:
        """The workload's client runner, once the load started."""
        return self.load.runner

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
        """Start a fault of the nemesis ``name`` now (for tests that drive faults); the
        parts of ``a&b`` together. Its fault id (the first part's)."""
        spec = NemesisSpec.parse(name)
        for key, nemesis in build_nemeses(spec).items():
            if key not in self.faults.nemeses:
                nemesis.check_cluster(self.config.nodes)  # as the plan checks scheduled ones
                self.faults.nemeses[key] = nemesis
        engine = self._engine("manual")
        ids = [(await engine.apply(str(part))).fault_id for part in spec.together or [spec]]
        applied = [i for i in ids if i is not None]
        if not applied:
            raise ConfigError(f"nemesis '{name}' found nothing to do")
        return applied[0]

    async def heal(self, name: str | None = None) -> None:
        """Stop the active faults of one nemesis (each part of ``a&b``), or every one."""
        engine = self._engine("manual")
        if name is None:
            await engine.heal()
            return
        spec = NemesisSpec.parse(name)
        for part in spec.together or [spec]:
            await engine.heal(str(part))

    async def _main_phase(self) -> None:
        steps = self._steps()
        write_json(self.run_dir / "schedule.json", [s.to_json() for s in steps])
        engine = self._engine("scenario" if self.plan.scenario is not None else "schedule")
        self.start_load()
        self.timings.mark("main_start")
        self.progress.start(self._snapshot)
        try:
            await engine.run(steps, until=self.config.time_limit)
        finally:
            await self.stop_load()
            self.progress.stop()

    def _engine(self, source: str) -> Engine:
        """The run's scenario engine; scenario time 0 is now (the fault phase begins)."""
        if self.engine is None:
            assert self.cluster.observer is not None
            loop = asyncio.get_running_loop()
            origin = loop.time()
            tape = Tape(self.run_dir / TAPE, origin_ns=self.clock.now(), source=source)
            self.engine = Engine(
                self.faults,
                self.cluster.observer,
                tape,
                now=lambda: loop.time() - origin,
                sleep=self._pause,
                stopped=self.live.stop.is_set,
            )
        return self.engine

    def start_load(self) -> None:
        """Start the workload's clients in the background (none for ``none``)."""
        self.load.start()

    async def stop_load(self) -> None:
        """Stop the clients; each finishes (or times out) the op it has in flight."""
        await self.load.stop()

    def _steps(self) -> list[Step]:
        """The scenario file's steps, or the random schedule drawn from the seed."""
        if self.plan.scenario is not None:
            return list(self.plan.scenario.steps)
        assert self.config.fault_s is not None and self.config.heal_s is not None
        return schedule_steps(
            self.config.nemeses,
            time_limit=self.config.time_limit,
            fault_s=self.config.fault_s,
            heal_s=self.config.heal_s,
            rng=schedule_rng(self.seed),
            settle_s=self.plan.target.settle_s,
        )

    async def _pause(self, delay: float) -> None:
        """Wait ``delay`` seconds, less when ``--fail-fast`` stops the run. Fault steps
        are never cut in half: the engine stops between them."""
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self.live.stop.wait()

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
            ops=self.load.ops_done,
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
        if self.engine is not None:
            await self.engine.close()
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
        if self.engine is not None:
            with timed("teardown.engine"), contextlib.suppress(Exception):
                await asyncio.wait_for(self.engine.close(), 2 * step)
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
