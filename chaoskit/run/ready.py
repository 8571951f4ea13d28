"""Readiness: what "the cluster has started" means before the first fault may come.

Every run waits until each node answers its status probe (``wait_answered``).
Real services need more: Patroni's replicas exist only 10-15 s after start (a
``pg_basebackup`` each), and a fault that comes earlier tests a half-built cluster
(docs/targets/patroni.md). So a target names a rule (``Target.ready``), checked on
the observer's latest answers:

- ``answer``: every node answers (nothing more than the start-up wait);
- ``leader``: and one of them says it leads;
- ``roles``: every node leads or follows (none is a candidate or down), one leads.

The schedule's opening healthy interval, at least ``Target.settle_s``, is counted
from the moment the rule holds (run/schedule.py). A cluster that never gets there is
not an error of the run: it may be exactly what the checkers should report (no
leader is a stalled election), so after a bounded wait the run goes on with a warning.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from chaoskit.core.runtime import Runtime
from chaoskit.core.target import NodeInfo, Ready, Target
from chaoskit.errors import SetupError
from chaoskit.observe.observer import Observer
from chaoskit.store.rundir import LOGS

#: How long every node has to answer its status probe for the first time.
STARTUP_TIMEOUT_S = 30.0
#: How often start-up looks whether every node has answered (no I/O: a set lookup).
READY_POLL_S = 0.005
#: The shortest wait for readiness (seconds); longer for targets with slow elections.
MIN_READY_WAIT_S = 30.0
#: How often the rule is checked against the observer's latest answers.
POLL_S = 0.05


def ready_wait_s(target: Target) -> float:
    """How long a run waits for its rule: three election deadlines, at least 30 s."""
    return max(MIN_READY_WAIT_S, 3 * target.election_deadline)


def unready(rule: Ready, roles: Mapping[str, str], nodes: Sequence[str]) -> list[str]:
    """Why ``roles`` (each node's latest role) does not satisfy ``rule`` yet, as
    ``node: role`` entries (``no leader`` when only a leader is missing); empty when
    it does."""
    why = [f"{n}: {roles.get(n, 'no answer')}" for n in nodes if roles.get(n, "down") == "down"]
    if rule == "roles":
        why += [f"{n}: candidate" for n in nodes if roles.get(n) == "candidate"]
    if rule != "answer" and not why and "leader" not in roles.values():
        why.append("no leader")
    return why


async def wait_until_ready(
    observer: Observer,
    target: Target,
    nodes: Sequence[str],
    warn: Callable[[str], None],
    *,
    timeout: float | None = None,
) -> float | None:
    """Wait until the target's ``ready`` rule holds; the seconds it took, or None (and
    a warning naming what was missing) when it did not hold within ``timeout``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    limit = ready_wait_s(target) if timeout is None else timeout
    while why := unready(target.ready, observer.roles(), nodes):
        if loop.time() - start > limit:
            warn(
                f"the cluster was not ready ({target.ready}) after {limit:g} s "
                f"({', '.join(why)}); the fault schedule starts anyway"
            )
            return None
        await asyncio.sleep(POLL_S)
    return round(loop.time() - start, 3)


async def wait_answered(
    observer: Observer | None, runtime: Runtime | None, nodes: Sequence[NodeInfo], run_dir: Path
) -> None:
    """Every node must answer its status API before faults may start.

    The observer starts at once and its first answer of each node is what counts: no
    second poller, and a node is seen ready within one sampling interval of it.
    """
    assert observer is not None and runtime is not None
    observer.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT_S
    while pending := [n.id for n in nodes if n.id not in observer.answered]:
        for nid in pending:
            if not runtime.is_running(nid):
                raise SetupError(f"node {nid} exited at start-up: {log_tail(run_dir, nid)}")
        if loop.time() > deadline:
            raise SetupError(
                f"node(s) {', '.join(sorted(pending))} never answered within "
                f"{STARTUP_TIMEOUT_S:g} s: {log_tail(run_dir, sorted(pending)[0])}"
            )
        await asyncio.sleep(READY_POLL_S)


def log_tail(run_dir: Path, node: str) -> str:
    """The last line a node wrote, for a one-line start-up error."""
    path = run_dir / LOGS / f"{node}.log"
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        lines = []
    return lines[-1] if lines else f"no output (see {path})"
