"""What a run records about itself besides its streams: config.json, its entry in the
registry of runs in progress, its reports, and the controller's own log.

``config.json`` is written when the run starts (so that an interrupted run can be
checked and repeated) and again when it ends; it holds every setting (``RunConfig``)
plus what the plan resolved (policy, deadline, workload, checkers) and what the
launch found (node addresses, image).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chaoskit.observe.observer import DEFAULT_INTERVAL_S as OBSERVE_INTERVAL_S
from chaoskit.remote.inventory import SPEC_TABLE
from chaoskit.run.config import RunConfig
from chaoskit.run.launch import Cluster
from chaoskit.run.plan import RunPlan
from chaoskit.run.settings import config_json
from chaoskit.runtimes.registry import ActiveRun, process_token, register, unregister
from chaoskit.store.rundir import CONFIG, LOGS, write_json


@dataclass
class RunRecord:
    """The run's own records, kept up to date as the run goes."""

    plan: RunPlan
    run_dir: Path
    run_id: str
    started_wall: float
    stored: dict[str, Any] = field(default_factory=dict)

    def write_config(self, cluster: Cluster, *, finished: bool, end_time: int | None) -> None:
        """(Re)write config.json: the settings, the plan and what the launch found."""
        config, target = self.plan.config, self.plan.target
        stored = config_json(config)
        stored.update(
            {
                "run_id": self.run_id,
                "target": target.name,
                "nodes": [n.id for n in cluster.nodes]
                or [f"n{i + 1}" for i in range(config.nodes)],
                "node_count": config.nodes,
                "nemesis": list(self.plan.nemeses)
                if config.scenario is not None
                else [str(n) for n in config.nemeses],
                "policy": self.plan.policy,
                "election_deadline": self.plan.election_deadline,
                "election_timeout": target.election_timeout,
                # Before the first fault: the readiness rule, how long it took to hold
                # (None: never), then the settle time (run/ready.py, run/schedule.py).
                "ready": target.ready,
                "ready_s": cluster.ready_s,
                "settle_s": target.settle_s,
                "workload": self.plan.workload.name,
                "model": self.plan.workload.model,
                "concurrency": self.plan.concurrency,
                "bound_clients": self.plan.bound_clients,
                "checkers": list(self.plan.checkers),
                "started_at": self.stored.get(
                    "started_at", datetime.now(UTC).isoformat(timespec="seconds")
                ),
                "finished": finished,
                "end_time": end_time,
                "node_addresses": {n.id: f"{n.host}:{n.port}" for n in cluster.nodes},
                "image": cluster.runtime.image if cluster.runtime is not None else None,
                "observe_interval_ms": OBSERVE_INTERVAL_S * 1000,
            }
        )
        if config.origin:
            # A re-run by ``chaoskit replay`` or ``chaoskit shrink``: which run it repeats.
            stored.update(config.origin)
        self.stored = stored
        write_json(self.run_dir / CONFIG, stored)

    def register(self, cluster: Cluster) -> str | None:
        """Enter (or update) the run in the registry of runs in progress, so that
        ``chaoskit cleanup`` can undo what a SIGKILLed controller leaves; a warning
        when the registry cannot be written."""
        config = self.plan.config
        adopted = config.runtime == "compose"
        entry = ActiveRun(
            run_id=self.run_id,
            run_dir=str(self.run_dir.resolve()),
            controller=process_token(),
            runtime=config.runtime,
            # Only a proxy that outlives the controller needs cleaning after a crash.
            proxy_url=cluster.proxy.url if adopted and cluster.proxy else config.toxiproxy_url,
            proxy_prefix=f"ck-{self.run_id}-",
            # A compose project's proxies are its own: cleanup resets them, never deletes.
            proxy_reset=sorted(cluster.adopted_proxies),
            clock_dir=str((self.run_dir / "clock").resolve()),
            disk_root=str(cluster.disk.faults.run_dir.parent) if cluster.disk else None,
            pids=cluster.runtime.pids() if cluster.runtime is not None else [],
            started=self.started_wall,
            **_inventory_entry(config),
        )
        try:
            register(entry)
        except OSError as exc:
            return (
                f"cannot record the run as active ({exc}): cleanup after a "
                "crash will not find its proxies; set CHAOSKIT_STATE_DIR"
            )
        return None

    def unregister(self) -> None:
        """Nothing of the run is left for ``chaoskit cleanup``."""
        unregister(self.run_id)

    def write_reports(self) -> list[str]:
        """report.html and junit.xml; a report that fails never loses the run (the
        failures come back as warnings)."""
        from chaoskit.report import write_junit, write_run_report

        warnings = []
        for write in (write_run_report, write_junit):
            try:
                write(self.run_dir)
            except Exception as exc:  # noqa: BLE001 - a report never loses a run
                warnings.append(f"could not write {write.__name__}: {exc}")
        return warnings


def _inventory_entry(config: RunConfig) -> dict[str, str | None]:
    """Where the hosts of an ssh run are named, for cleanup after a crash."""
    if config.runtime != "ssh":
        return {}
    if config.inventory is not None:
        return {"inventory": str(config.inventory), "inventory_table": None}
    return {"inventory": str(config.target), "inventory_table": SPEC_TABLE}


def log_to_run(run_dir: Path) -> logging.Handler:
    """chaoskit's own log lines (the embedded proxy's, say) go to the run's
    ``logs/controller.log``, not to the terminal; the caller removes the handler."""
    handler = logging.FileHandler(run_dir / LOGS / "controller.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    logger = logging.getLogger("chaoskit")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


def stop_logging(handler: logging.Handler) -> None:
    logging.getLogger("chaoskit").removeHandler(handler)
    handler.close()
