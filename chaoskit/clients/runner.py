"""The client runner: logical client processes that invoke workload ops and record them.

Each of ``concurrency`` clients loops: draw an op from its own seeded generator,
send it to the node it believes leads, and record an ``invoke`` and then exactly
one completion in ``history.jsonl``:

- ``ok``: it happened (for reads, ``value`` is the value read);
- ``fail``: it certainly did not happen (refused, or never reached the node);
- ``info``: unknown, it may take effect at any later time. As in Jepsen, the
  client then retires its process number and goes on as ``process + concurrency``,
  because a process may have only one operation in flight.

A client follows the leader: the node named in the last redirect it got, else the
one the observer believes leads, else a random node. ``bound`` more clients are
pinned to one node each (n1, n2, ... in turn), as Jepsen's clients are: they keep
asking their node through every fault, so a deposed leader that still answers reads
has someone to answer, which is how stale reads show up in the history. Every client has its own
generators (one for ops, one for node choices and pauses), so the op sequence of a
client depends only on the run's seed, not on how the clients interleave.

A target with a ``client`` factory (a client plug-in, ``chaoskit.clients.plugin``)
gets one client object per logical process instead of ``target.invoke``: opened
against the node the process talks to, replaced by a fresh one when the process moves
to another node or after ``info`` (a new process number, a connection in an unknown
state), and closed when the clients stop. A factory that returns None leaves the op to
``target.invoke``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from chaoskit.clients.plugin import ClientSession
from chaoskit.core.nemesis import LeaderView
from chaoskit.core.records import Record
from chaoskit.core.target import NodeInfo, Outcome, Target
from chaoskit.core.workload import Op, Workload
from chaoskit.store.streams import RunClock

#: Pause between two ops of one client (seconds): keeps a 2-core machine responsive.
PAUSE_S = (0.005, 0.02)
#: How long a client with nothing to do waits before asking the workload again.
IDLE_S = 0.1
#: Extra pause of a bound client after its node refused an op.
BOUND_REFUSED_PAUSE_S = 0.1
#: Pause between two attempts of a final op.
FINAL_RETRY_S = 0.2
#: Refusals naming no leader before a client stops trusting the node it prefers.
MAX_MISSES = 2
#: Extra time the target gets beyond ``op_timeout`` to report its own outcome.
GRACE_FACTOR = 1.5
#: Longest wait for a plug-in client object's ``close``.
CLOSE_S = 5.0


class HistorySink(Protocol):
    """Where records go: a ``JsonlWriter`` in a run, a list-like fake in tests."""

    def write(self, record: Record) -> None: ...


@dataclass
class _Client:
    """One logical client: its process number, generators and the leader it believes in."""

    process: int
    ops: random.Random
    aux: random.Random
    preferred: str | None = None
    #: Refusals in a row that named no leader: after ``MAX_MISSES`` ask the observer again.
    misses: int = 0
    #: The final-phase client takes fresh process numbers instead of striding.
    final: bool = False
    #: A bound client's node: it asks no other.
    pinned: str | None = None
    #: The plug-in client object of the current process, open against ``session.node``.
    session: ClientSession | None = None


class ClientRunner:
    """Runs the workload's clients against the target and streams the history."""

    def __init__(
        self,
        *,
        target: Target,
        nodes: Sequence[NodeInfo],
        workload: Workload,
        history: HistorySink,
        clock: RunClock,
        http: httpx.AsyncClient,
        concurrency: int,
        rng: random.Random,
        op_timeout: float,
        leader: LeaderView,
        bound: int = 0,
    ) -> None:
        self.target = target
        self.nodes = list(nodes)
        self.workload = workload
        self.history = history
        self.clock = clock
        self.http = http
        #: Process numbers stride by the number of clients: one op in flight per process.
        self.concurrency = concurrency + bound
        self.op_timeout = op_timeout
        self.leader = leader
        #: Completed operations (for the progress display).
        self.ops_done = 0
        self._by_id: Mapping[str, NodeInfo] = {n.id: n for n in self.nodes}
        self._index = 0
        self._clients = [
            _Client(i, random.Random(rng.getrandbits(64)), random.Random(rng.getrandbits(64)))
            for i in range(concurrency)
        ]
        ids = [n.id for n in self.nodes]
        for j in range(bound):
            generators = random.Random(rng.getrandbits(64)), random.Random(rng.getrandbits(64))
            self._clients.append(_Client(concurrency + j, *generators, pinned=ids[j % len(ids)]))
        self._final_rng = random.Random(rng.getrandbits(64))
        self._max_process = concurrency - 1
        #: The target's factory of plug-in client objects (one per process); None once it
        #: declined (returned None): every op then goes through ``target.invoke``.
        self._factory: Callable[[], Any] | None = target.client

    async def run(self, stop: asyncio.Event) -> None:
        """Run every client until ``stop`` is set; ops in flight are completed first."""
        try:
            async with asyncio.TaskGroup() as group:
                for client in self._clients:
                    group.create_task(self._loop(client, stop), name=f"client-{client.process}")
        finally:
            # Concurrently: the controller bounds how long stopping the clients may take.
            await asyncio.gather(*(self._drop(client) for client in self._clients))

    async def final(self, timeout: float) -> list[Record | None]:
        """Run the workload's final ops, retrying each until it is ok or time runs out.

        Returns the ``ok`` completion of each final op, or None for one that never
        succeeded. Runs as a fresh process, after the clients have stopped.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        client = _Client(self._new_process(), self._final_rng, self._final_rng, final=True)
        results: list[Record | None] = []
        try:
            for op in self.workload.final_ops():
                done: Record | None = None
                while done is None and (left := deadline - loop.time()) > 0:
                    rec = await self._invoke(client, dict(op), min(self.op_timeout, left))
                    if rec["type"] == "ok":
                        done = rec
                    else:
                        await asyncio.sleep(min(FINAL_RETRY_S, max(0.0, deadline - loop.time())))
                results.append(done)
        finally:
            await self._drop(client)
        return results

    async def _loop(self, client: _Client, stop: asyncio.Event) -> None:
        while not stop.is_set():
            op = self.workload.next_op(client.ops)
            if op is None:
                await _wait(stop, IDLE_S)
                continue
            rec = await self._invoke(client, op, self.op_timeout)
            pause = client.aux.uniform(*PAUSE_S)
            if client.pinned is not None and rec["type"] == "fail":
                pause += BOUND_REFUSED_PAUSE_S  # a follower refusing: no need to hammer it
            await _wait(stop, pause)

    async def _invoke(self, client: _Client, op: Op, timeout: float) -> Record:
        """One op: record the invoke, call the target, record and return the completion."""
        node = self._choose_node(client)
        base = {"process": client.process, "f": op.get("f"), "key": op.get("key")}
        self._write({**base, "type": "invoke", "value": op.get("value"), "node": node})
        try:
            outcome = await self._call(client, node, op, timeout)
        except asyncio.CancelledError:
            self._complete(client, base, op, node, Outcome("info", error="cancelled"))
            raise
        return self._complete(client, base, op, node, outcome)

    async def _call(self, client: _Client, node: str, op: Op, timeout: float) -> Outcome:
        """The op through the process's plug-in client, else through ``target.invoke``."""
        if self._factory is not None:
            session = await self._session(client, node, timeout)
            if isinstance(session, Outcome):
                return session  # no client object could be made or opened: not sent
            if session is not None:
                outcome = await session.invoke(op, timeout)
                if outcome.type == "info" or session.broken:
                    await self._drop(client)  # the next process starts afresh
                return outcome
        return await self._call_target(node, op, timeout)

    async def _session(
        self, client: _Client, node: str, timeout: float
    ) -> ClientSession | Outcome | None:
        """The process's client object, open against ``node``: reused while the process
        stays on that node, else a fresh one. ``fail`` when it cannot be made or opened;
        None when the factory declines (the op goes to ``target.invoke``)."""
        if client.session is not None and client.session.node == node:
            return client.session
        await self._drop(client)
        assert self._factory is not None
        try:
            obj = self._factory()
        except Exception as exc:  # noqa: BLE001 - a user's constructor: the op was not sent
            return Outcome("fail", error=f"client: {type(exc).__name__}: {exc}")
        if obj is None:
            self._factory = None
            return None
        session = ClientSession(obj, name=f"client-{client.process}")
        client.session = session
        failed = await session.open(self._by_id[node], timeout)
        if failed is not None:
            await self._drop(client)
        return failed or session

    async def _drop(self, client: _Client) -> None:
        """Close the process's client object, if any (bounded: a close may hang too)."""
        session, client.session = client.session, None
        if session is not None:
            await session.close(min(self.op_timeout, CLOSE_S))

    async def _call_target(self, node: str, op: Op, timeout: float) -> Outcome:
        """The target's outcome; transport errors become ``fail`` (not sent) or ``info``."""
        try:
            return await asyncio.wait_for(
                self.target.invoke(self.http, self._by_id[node], op, timeout),
                timeout * GRACE_FACTOR,
            )
        except TimeoutError:
            return Outcome("info", error="timeout")
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return Outcome("fail", error=f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # noqa: BLE001 - the op may or may not have happened
            return Outcome("info", error=f"{type(exc).__name__}: {exc}")

    def _complete(
        self, client: _Client, base: dict[str, Any], op: Op, node: str, outcome: Outcome
    ) -> Record:
        is_read = op.get("value") is None
        value = outcome.value if outcome.type == "ok" and is_read else op.get("value")
        rec: Record = {**base, "type": outcome.type, "value": value, "node": node}
        error = outcome.error
        if outcome.redirect is not None and error is None:
            error = f"not leader; redirect to {outcome.redirect}"
        if error is not None:
            rec["error"] = error
        rec = self._write(rec)
        self.ops_done += 1
        self._follow(client, node, outcome)
        return rec

    def _follow(self, client: _Client, node: str, outcome: Outcome) -> None:
        """Update whom the client believes leads, and retire its process after ``info``.

        A node that answered keeps the client's trust: a plain ``fail`` is often a
        lost compare-and-set, not a lost leader, so only repeated refusals that name
        no leader send the client back to the observer.
        """
        if outcome.type == "ok":
            client.preferred, client.misses = node, 0
        elif outcome.type == "fail" and outcome.redirect in self._by_id:
            client.preferred, client.misses = outcome.redirect, 0
        elif outcome.type == "fail":
            client.misses += 1
            if client.misses >= MAX_MISSES:
                client.preferred, client.misses = None, 0
        else:
            client.preferred, client.misses = None, 0
            if client.final:
                client.process = self._new_process()
            else:
                client.process += self.concurrency
                self._max_process = max(self._max_process, client.process)

    def _choose_node(self, client: _Client) -> str:
        if client.pinned is not None:
            return client.pinned
        for candidate in (client.preferred, self.leader.current_leader()):
            if candidate is not None and candidate in self._by_id:
                return candidate
        return client.aux.choice(sorted(self._by_id))

    def _new_process(self) -> int:
        self._max_process += 1
        return self._max_process

    def _write(self, rec: Record) -> Record:
        """Stamp index and time (in write order) and stream the record."""
        out: Record = {"index": self._index, **rec, "time": self.clock.now()}
        self._index += 1
        self.history.write(out)
        return out


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    """Sleep up to ``seconds``, waking early when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
