"""The Controller: one run from start to verdict (ARCHITECTURE.md section 1).

start the proxy and the nodes -> observe, drive clients, apply the fault schedule
-> final phase (heal everything, wait for a leader, final reads, stop nodes)
-> checkers -> results.json, report.html, junit.xml.

Whatever happens (Ctrl-C, SIGTERM, an exception, a node that never starts), the
``finally`` path heals every fault, stops every node and closes every listener
before the controller exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaoskit._active import ActiveRun, process_token, register, unregister
from chaoskit._checker import RunData
from chaoskit._checking import run_checkers
from chaoskit._client_runner import ClientRunner
from chaoskit._config import RunConfig
from chaoskit._errors import ChaoskitError, ConfigError, SetupError
from chaoskit._http import node_client
from chaoskit._nemesis import Clock, Fault, NemesisContext
from chaoskit._network import ProxyNetwork
from chaoskit._observer import Observer
from chaoskit._plan import RunPlan, plan_run
from chaoskit._ports import PortLease, lease_ports
from chaoskit._progress import Progress
from chaoskit._records import HISTORY, NEMESIS, OBSERVATIONS, JsonlWriter, RunClock
from chaoskit._result import RunResult
from chaoskit._runtime import Runtime
from chaoskit._runtime_local import LocalRuntime
from chaoskit._store import CONFIG, LOGS, RESULTS, create_run_dir, load_run, write_json
from chaoskit._target import NodeInfo
from chaoskit.proxy import ProxyClient, ProxyServer
from chaoskit.proxy._watch import FaultApiWatch
from nemeses._schedule import Step, build_schedule, default_intervals, nemesis_rng, schedule_rng

if TYPE_CHECKING:
    from chaoskit._clock import FaketimeClock

STARTUP_TIMEOUT_S = 30.0
SETTLE_S = 0.5
#: Longest wait for one teardown step (twice that for healing and stopping nodes).
TEARDOWN_STEP_S = 30.0


@dataclass
class _Active:
    id: int
    key: str
    fault: Fault


@dataclass
class _RunState:
    active: dict[str, _Active] = field(default_factory=dict)
    next_fault_id: int = 1
    faults_started: int = 0


class Controller:
    """Carries out one planned run; ``await execute()`` returns its ``RunResult``."""

    def __init__(self, plan: RunPlan) -> None:
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
        # Issue 26: the run's fault-API token, and what others change into nemesis.jsonl.
        self.watch = FaultApiWatch(
            self.nemesis_log.write, self.clock.now, prefix=f"ck-{self.run_id}-"
        )
        self.state = _RunState()
        self._rngs: dict[str, random.Random] = {}
        self._client_task: asyncio.Task[None] | None = None
        self._stop_clients = asyncio.Event()
        self.nodes: list[NodeInfo] = []
        self.stored_config: dict[str, Any] = {}
        self.proxy_server: ProxyServer | None = None
        self.proxy: ProxyClient | None = None
        self.network: Any = None  # ProxyNetwork, or IptablesNetwork in containers
        self.fault_clock: Clock | None = None
        self.runtime: Runtime | None = None
        self.ports: PortLease | None = None
        self.observer: Observer | None = None
        self.clients: ClientRunner | None = None
        self.progress = Progress(enabled=self.config.progress)
        self._log_handler = _log_to(self.run_dir / LOGS / "controller.log")
        self.phase = "starting"
        self._started_wall = time.time()

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
            self._kill_now()
            raise

    def _kill_now(self) -> None:
        kill_now = getattr(self.runtime, "kill_now", None)
        if kill_now is not None:
            with contextlib.suppress(Exception):
                kill_now()

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
        try:
            await self._start_cluster()
            self._register()
        except ChaoskitError as exc:
            await self._teardown()
            raise SetupError(f"{exc} (logs in {self.run_dir / LOGS})") from exc
        except BaseException:
            await self._teardown()
            raise
        self.phase = "running"

    async def finish(self, *, interrupted: bool = False, error: str | None = None) -> RunResult:
        """Final phase (unless cut short), teardown, checkers, results and reports."""
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
        results = self._check()
        if error:
            results["error"] = error
        write_json(self.run_dir / RESULTS, results)
        self._write_reports()
        return RunResult(
            self.run_dir,
            results,
            seed=self.seed,
            command=self.config.command(),
            interrupted=interrupted,
            error=error,
        )

    async def apply(self, name: str) -> int:
        """Start one fault of the nemesis ``name`` now (for tests that drive faults)."""
        if name not in self.plan.nemeses:
            from chaoskit._config import NemesisSpec
            from chaoskit._plan import build_nemesis

            self.plan.nemeses[name] = build_nemesis(NemesisSpec.parse(name))
        await self._start_fault(name)
        active = self.state.active.get(name)
        if active is None:
            raise ConfigError(f"nemesis '{name}' found nothing to do")
        return active.id

    async def heal(self, name: str | None = None) -> None:
        """Stop one active fault, or every one."""
        for key in [name] if name else list(self.state.active):
            await self._stop_fault(key)

    async def _start_cluster(self) -> None:
        target = self.plan.target
        ids = [f"n{i + 1}" for i in range(self.config.nodes)]
        if self.config.compose_file is not None:
            await self._attach_compose_cluster()
            return
        if self.config.runtime == "docker":
            await self._start_docker_cluster(ids)
            return
        # A target with several peer ports (ZooKeeper: quorum, election) names them in
        # ``peer_ports``; each gets its own port per node and its own proxy per pair.
        kinds: tuple[str, ...] = tuple(getattr(target, "peer_ports", ()))
        # ``separate_peer_port`` (etcd): one client port and one distinct peer port per node.
        separate = int(bool(getattr(target, "separate_peer_port", False)) and not kinds)
        self.ports = lease_ports(len(ids) * (1 + len(kinds) + separate))
        ports = self.ports.ports
        named = {
            nid: {k: ports[len(ids) * (1 + j) + i] for j, k in enumerate(kinds)}
            for i, nid in enumerate(ids)
        }
        self.nodes = [
            NodeInfo(
                id=nid,
                index=i,
                host="127.0.0.1",
                port=ports[i],
                peer_port=named[nid][kinds[0]] if kinds else ports[i + len(ids) * separate],
                data_dir=self.run_dir / "data" / nid,
            )
            for i, nid in enumerate(ids)
        ]
        for node in self.nodes:
            node.data_dir.mkdir(parents=True, exist_ok=True)
        await self._start_proxy()
        assert self.network is not None
        peers: dict[str, Any] = (
            await self.network.setup_named(self.nodes, named)
            if kinds
            else await self.network.setup(self.nodes)
        )
        self.fault_clock = self._make_clock(ids)
        runtime = self._make_runtime()
        self.runtime = runtime
        self._write_config(finished=False)
        for node in self.nodes:
            await runtime.launch(node, target.launch(node, peers[node.id]))
        self.observer = Observer(target, self.nodes, self.observations, self.clock)
        await self._wait_ready()
        self.observer.start()

    async def _start_docker_cluster(self, ids: list[str]) -> None:
        """Nodes in containers on a network of the run; faults through the proxy
        container (or iptables inside the containers); the controller reaches every
        node through a port published on 127.0.0.1, which faults never cut."""
        from chaoskit._images import NODE_IMAGE
        from chaoskit._runtime_docker import LIBFAKETIME_IN_IMAGE, NODE_PORT, DockerRuntime

        target = self.plan.target
        if (
            getattr(target, "peer_ports", ())
            or target.proxy_mode != "pair"
            or getattr(target, "separate_peer_port", False)
        ):
            raise ConfigError(f"target '{target.name}' does not run in the docker runtime yet")
        self.fault_clock = self._make_clock(ids, library=LIBFAKETIME_IN_IMAGE)
        # A target spec's [docker] table names the user's image and its serving port.
        runtime = DockerRuntime(
            self.run_id,
            self.run_dir,
            image=getattr(target, "docker_image", None) or NODE_IMAGE,
            node_port=getattr(target, "docker_port", None) or NODE_PORT,
            clock=self.fault_clock,
            net_admin=self.config.network == "iptables",  # issue 26: no unused capability
        )
        self.runtime = runtime
        placed = runtime.place_nodes(ids)
        self.nodes = [p.outside for p in placed]
        if self.config.network == "iptables":
            from chaoskit._network_iptables import IptablesNetwork

            await runtime.setup()
            self.network = IptablesNetwork(runtime)
            peers = {p.id: runtime.direct_peers(p.id) for p in placed}
        else:
            url = self.config.toxiproxy_url
            if url is None:  # issue 26: the proxy container requires the run's token
                url = await runtime.start_proxy(seed=self.seed, token=self.watch.token)
            self.proxy = self.watch.client(url, "drift" if self.config.toxiproxy_url else "pull")
            self.network = ProxyNetwork(self.proxy, self.run_id, listen_host="0.0.0.0")
            peers = runtime.via_proxy(await self.network.setup([p.inside for p in placed]))
        self._write_config(finished=False)
        await runtime.launch_all(
            [(p.outside, target.launch(p.inside, peers[p.id])) for p in placed]
        )
        self.observer = Observer(target, self.nodes, self.observations, self.clock)
        await self._wait_ready()
        self.observer.start()

    async def _attach_compose_cluster(self) -> None:
        """Nodes are the services of a running docker-compose project (chaoskit/_attach.py):
        observed on their published ports, faulted through its proxy, never removed."""
        from chaoskit._attach import attach_compose

        assert self.config.compose_file is not None
        cluster = await attach_compose(
            self.config.compose_file,
            self.config.compose_project,
            self.run_dir,
            nodes=self.config.nodes,
            run_id=self.run_id,
        )
        self.runtime, self.network, self.proxy = cluster.runtime, cluster.network, cluster.proxy
        self.nodes = cluster.nodes
        self._write_config(finished=False)
        self.observer = Observer(self.plan.target, self.nodes, self.observations, self.clock)
        await self._wait_ready()
        self.observer.start()

    async def _start_proxy(self) -> None:
        url = self.config.toxiproxy_url
        if url is None:
            self.proxy_server = self.watch.server(self.seed)  # issue 26: token and audit
            await self.proxy_server.start()
            url = self.proxy_server.url
        self.proxy = self.watch.client(url, "drift" if self.config.toxiproxy_url else "hook")
        try:
            await self.proxy.version()
        except ChaoskitError as exc:
            raise SetupError(f"the fault proxy at {url} does not answer: {exc}") from exc
        self.network = ProxyNetwork(
            self.proxy,
            self.run_id,
            mode=self.plan.target.proxy_mode,
            sources=self._source_filter(),
        )

    def _source_filter(self) -> ProxyServer | None:
        """Embedded proxy only: name each connection's source node from /proc, so a
        destination-mode network can cut one source (chaoskit/_sources.py)."""
        if self.proxy_server is None or self.plan.target.proxy_mode != "destination":
            return None
        from chaoskit._sources import SourceResolver

        self.proxy_server.classify_sources(SourceResolver(self._node_pids).classify)
        return self.proxy_server

    def _node_pids(self) -> dict[str, int | None]:
        pid = getattr(self.runtime, "pid", None)
        return {n.id: pid(n.id) for n in self.nodes} if pid is not None else {}

    def _make_clock(self, ids: list[str], library: str | None = None) -> FaketimeClock | None:
        """``library``: libfaketime as the nodes see it (inside an image), else found here."""
        if not any(n.startswith("clock") for spec in self.config.nemeses for n in spec.names):
            return None
        from chaoskit._clock import FaketimeClock

        return FaketimeClock(self.run_dir / "clock", ids, library=library)

    def _make_runtime(self) -> Runtime:
        clock = self.fault_clock
        extra = getattr(clock, "env_for", None)
        return LocalRuntime(self.run_id, self.run_dir / LOGS, extra_env=extra)

    async def _wait_ready(self) -> None:
        """Every node must answer its status API before faults may start."""
        assert self.observer is not None and self.runtime is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STARTUP_TIMEOUT_S
        pending = {n.id: n for n in self.nodes}
        while pending:
            for nid, node in list(pending.items()):
                if not self.runtime.is_running(nid):
                    raise SetupError(f"node {nid} exited at start-up: {self._log_tail(nid)}")
                rec = await self.observer.observe_once(node)
                if rec["role"] != "down":
                    del pending[nid]
            if loop.time() > deadline:
                names = ", ".join(sorted(pending))
                raise SetupError(
                    f"node(s) {names} never answered within {STARTUP_TIMEOUT_S:g} s: "
                    f"{self._log_tail(sorted(pending)[0])}"
                )
            await asyncio.sleep(0.05)

    def _log_tail(self, node: str) -> str:
        path = self.run_dir / LOGS / f"{node}.log"
        try:
            lines = path.read_text(errors="replace").strip().splitlines()
        except OSError:
            lines = []
        return lines[-1] if lines else f"no output (see {path})"

    async def _main_phase(self) -> None:
        steps = self._schedule()
        write_json(self.run_dir / "schedule.json", [s.to_json() for s in steps])
        self.start_load()
        self.progress.start(self)
        try:
            await self._run_schedule(steps)
        finally:
            await self.stop_load()
            self.progress.stop()

    def start_load(self) -> None:
        """Start the workload's clients in the background (none for ``none``)."""
        assert self.observer is not None
        clients = self.plan.concurrency + self.plan.bound_clients
        if clients <= 0 or self._client_task is not None:
            return
        self.clients = ClientRunner(
            target=self.plan.target,
            nodes=self.nodes,
            workload=self.plan.workload,
            history=self.history,
            clock=self.clock,
            http=node_client(limit=100),
            concurrency=self.plan.concurrency,
            bound=self.plan.bound_clients,
            rng=random.Random(f"{self.seed}:clients"),
            op_timeout=max(1.0, 4 * self.plan.target.election_timeout),
            leader=self.observer,
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
        fault_s, heal_s = default_intervals(self.plan.target.election_timeout)
        return build_schedule(
            list(self.plan.nemeses),
            time_limit=self.config.time_limit,
            fault_s=self.config.fault_s or fault_s,
            heal_s=self.config.heal_s or heal_s,
            rng=schedule_rng(self.seed),
        )

    async def _run_schedule(self, steps: list[Step]) -> None:
        loop = asyncio.get_running_loop()
        origin = loop.time()
        for step in steps:
            delay = origin + step.at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if step.action == "start":
                await self._start_fault(step.nemesis)
            else:
                await self._stop_fault(step.nemesis)
        delay = origin + self.config.time_limit - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)

    def _context(self, key: str) -> NemesisContext:
        assert self.runtime is not None and self.network is not None
        assert self.observer is not None
        return NemesisContext(
            nodes=self.nodes,
            rng=self._rngs.setdefault(key, nemesis_rng(self.seed, key)),
            runtime=self.runtime,
            network=self.network,
            leader=self.observer,
            clock=self.fault_clock,
        )

    async def _start_fault(self, key: str) -> None:
        if key in self.state.active:
            return
        nemesis = self.plan.nemeses[key]
        self.state.faults_started += 1
        fault = await nemesis.start(self._context(key))
        if fault is None:
            return
        fid = self.state.next_fault_id
        self.state.next_fault_id += 1
        self.state.active[key] = _Active(fid, key, fault)
        self.nemesis_log.write(
            {
                "time": self.clock.now(),
                "type": "start",
                "id": fid,
                "fault": fault.fault,
                "nemesis": key,
                "detail": fault.detail,
                "down": sorted(fault.down),
                "cut": [list(link) for link in fault.cut],
            }
        )

    async def _stop_fault(self, key: str) -> None:
        active = self.state.active.pop(key, None)
        if active is None:
            return
        try:
            await self.plan.nemeses[key].stop(self._context(key), active.fault)
        finally:
            self.nemesis_log.write(
                {
                    "time": self.clock.now(),
                    "type": "stop",
                    "id": active.id,
                    "fault": active.fault.fault,
                    "nemesis": key,
                }
            )
        await self._check_fault_api()

    async def _check_fault_api(self) -> None:
        """Issue 26: record what others changed on the run's proxies (after heals)."""
        try:
            await self.watch.check()
        except ChaoskitError as exc:
            self.progress.warn(f"cannot audit the fault proxy: {exc}")

    async def _final_phase(self) -> None:
        """Heal everything, wait for a leader, run the final reads."""
        self.phase = "final"
        await self._heal_everything()
        self._sync_streams()
        await self._wait_for_leader(max(5.0, 3 * self.plan.election_deadline))
        if self.clients is not None:
            await self.clients.final(timeout=max(5.0, 3 * self.plan.election_deadline))
        await asyncio.sleep(SETTLE_S)

    async def _heal_everything(self) -> None:
        """Stop every active fault, then undo anything a nemesis may have missed."""
        for key in list(self.state.active):
            try:
                await self._stop_fault(key)
            except Exception as exc:  # noqa: BLE001 - keep healing the rest
                self.progress.warn(f"healing {key} failed: {exc}")
        if self.network is not None:
            await self.network.heal_all()
            await self._check_fault_api()
        if self.fault_clock is not None:
            self.fault_clock.reset()
        if self.runtime is not None:
            for node in self.nodes:
                await self.runtime.resume(node.id)
                if not self.runtime.is_running(node.id):
                    await self.runtime.start(node.id)

    async def _wait_for_leader(self, timeout: float) -> None:
        assert self.observer is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline and self.observer.current_leader() is None:
            await asyncio.sleep(0.05)

    async def _teardown(self) -> None:
        """Runs on every exit path: heal, stop nodes, close listeners, flush streams.

        Each step that talks to something is bounded, so one that hangs cannot keep the
        rest from running; if healing or closing the network failed, the run stays in
        the registry of active runs for ``chaoskit cleanup``.
        """
        step = TEARDOWN_STEP_S
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.stop_load(), step)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._heal_everything(), 2 * step)
        faulty = getattr(self.network, "faulty_links", None)
        healed = faulty is None or not faulty()
        if self.clients is not None:
            with contextlib.suppress(Exception):
                await self.clients.http.aclose()
        # Optional target hook: targets holding client sessions (kazoo) release them here.
        target_close = getattr(self.plan.target, "aclose", None)
        if target_close is not None:
            with contextlib.suppress(Exception):
                await target_close()
        if self.observer is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.observer.stop(), step)
        if self.runtime is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.runtime.close(), 2 * step)
        if self.network is not None:
            try:
                await asyncio.wait_for(self.network.close(), 2 * step)
            except Exception:  # noqa: BLE001 - recorded: the registry entry stays
                healed = False
        if self.proxy is not None:
            with contextlib.suppress(Exception):
                await self.proxy.aclose()
        if self.proxy_server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proxy_server.close(), step)
        if self.ports is not None:
            self.ports.release()
        close = getattr(self.fault_clock, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()
        self.end_time = self.clock.now()
        self.watch.close()
        for writer in (self.history, self.observations, self.nemesis_log):
            writer.close()
        logging.getLogger("chaoskit").removeHandler(self._log_handler)
        self._log_handler.close()
        if healed or self.network is None:
            unregister(self.run_id)

    def _register(self) -> None:
        """Enter (or update) this run in the registry of active runs (chaoskit/_active.py),
        so that ``chaoskit cleanup`` can undo what a SIGKILLed controller leaves."""
        pids = getattr(self.runtime, "pids", None)
        adopted = getattr(self.config, "compose_file", None) is not None
        entry = ActiveRun(
            run_id=self.run_id,
            run_dir=str(self.run_dir.resolve()),
            controller=process_token(),
            runtime=self.config.runtime,
            proxy_url=self.proxy.url if adopted and self.proxy else self.config.toxiproxy_url,
            proxy_prefix=f"ck-{self.run_id}-",
            # A compose project's proxies are its own: cleanup resets them, never deletes.
            proxy_reset=sorted(
                name for names in getattr(self.network, "_proxies", {}).values() for name in names
            )
            if adopted
            else [],
            clock_dir=str((self.run_dir / "clock").resolve()),
            pids=pids() if pids is not None else [],
            started=self._started_wall,
        )
        try:
            register(entry)
        except OSError as exc:
            self.progress.warn(
                f"cannot record the run as active ({exc}): cleanup after a "
                "crash will not find its proxies; set CHAOSKIT_STATE_DIR"
            )

    def _sync_streams(self) -> None:
        for writer in (self.history, self.observations, self.nemesis_log):
            writer.sync()

    # -- records -----------------------------------------------------------------------

    def _write_config(self, *, finished: bool) -> None:
        cfg = self.config.to_json()
        target = self.plan.target
        cfg.update(
            {
                "run_id": self.run_id,
                "target": target.name,
                "nodes": [n.id for n in self.nodes]
                or [f"n{i + 1}" for i in range(self.config.nodes)],
                "node_count": self.config.nodes,
                "nemesis": [str(n) for n in self.config.nemeses],
                "policy": self.plan.policy,
                "election_deadline": self.plan.election_deadline,
                "election_timeout": target.election_timeout,
                "workload": self.plan.workload.name,
                "model": self.plan.workload.model,
                "concurrency": self.plan.concurrency,
                "bound_clients": self.plan.bound_clients,
                "checkers": list(self.plan.checkers),
                "started_at": self.stored_config.get(
                    "started_at", datetime.now(UTC).isoformat(timespec="seconds")
                ),
                "finished": finished,
                "end_time": getattr(self, "end_time", None),
                "node_addresses": {n.id: f"{n.host}:{n.port}" for n in self.nodes},
                "image": getattr(self.runtime, "image", None),
            }
        )
        self.stored_config = cfg
        write_json(self.run_dir / CONFIG, cfg)

    def _check(self) -> dict[str, Any]:
        run: RunData = load_run(self.run_dir)
        return run_checkers(run, self.plan.checkers)

    def _write_reports(self) -> None:
        try:
            from chaoskit.report import write_junit, write_run_report
        except ImportError:
            return
        for write in (write_run_report, write_junit):
            try:
                write(self.run_dir)
            except Exception as exc:  # noqa: BLE001 - a report never loses a run
                self.progress.warn(f"could not write {write.__name__}: {exc}")


def _log_to(path: Path) -> logging.Handler:
    """chaoskit's own log lines (the embedded proxy's, say) go to the run, not the terminal."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("chaoskit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


def _uncancel() -> None:
    """We handled the cancellation (Ctrl-C): let the cleanup that follows run normally."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def execute(config: RunConfig) -> RunResult:
    """Plan and carry out one run."""
    plan = plan_run(config.with_seed())
    return await Controller(plan).execute()
