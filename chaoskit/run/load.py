"""The run's client load: the workload's logical clients, started and stopped as one.

The controller starts the load when the fault phase begins (or a test's cluster
asks for it) and stops it before the final phase: each client finishes, or times
out, the operation it has in flight, so the history has no invocation left open
that the run could have completed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from chaoskit.clients.http import node_client
from chaoskit.clients.runner import ClientRunner
from chaoskit.run.launch import Cluster
from chaoskit.run.plan import RunPlan
from chaoskit.store.streams import JsonlWriter, RunClock

#: Longest wait for the clients to finish their operations in flight.
STOP_WAIT_S = 5.0


class ClientLoad:
    """The clients of one run, running in the background between ``start`` and ``stop``."""

    def __init__(
        self, plan: RunPlan, cluster: Cluster, history: JsonlWriter, clock: RunClock, seed: int
    ) -> None:
        self.plan = plan
        self.cluster = cluster
        self.history = history
        self.clock = clock
        self.seed = seed
        self.runner: ClientRunner | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    @property
    def ops_done(self) -> int:
        return self.runner.ops_done if self.runner is not None else 0

    def start(self) -> None:
        """Start the workload's clients (none for ``none``; once only)."""
        assert self.cluster.observer is not None
        plan = self.plan
        if plan.concurrency + plan.bound_clients <= 0 or self._task is not None:
            return
        self.runner = ClientRunner(
            target=plan.target,
            nodes=self.cluster.nodes,
            workload=plan.workload,
            history=self.history,
            clock=self.clock,
            http=node_client(limit=100),
            concurrency=plan.concurrency,
            bound=plan.bound_clients,
            rng=random.Random(f"{self.seed}:clients"),
            op_timeout=max(1.0, 4 * plan.target.election_timeout),
            leader=self.cluster.observer,
        )
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.runner.run(self._stop), name="clients")

    async def stop(self) -> None:
        """Stop the clients; each finishes (or times out) the op it has in flight."""
        if self._task is None:
            return
        self._stop.set()
        with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
            await asyncio.wait_for(self._task, STOP_WAIT_S)
        self._task = None
