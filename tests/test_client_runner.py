"""The client runner against an in-memory target: a well-formed, reproducible history."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaoskit import workloads
from chaoskit.clients.runner import BOUND_REFUSED_PAUSE_S, ClientRunner
from chaoskit.core.records import Record
from chaoskit.core.target import NodeInfo, Outcome, TargetBase
from chaoskit.core.workload import Workload
from chaoskit.store.streams import RunClock

IDS = ["n1", "n2", "n3"]
NODES = [
    NodeInfo(i, k, "127.0.0.1", {"api": 9100 + k}, Path(f"/tmp/ck-fake/{i}"))
    for k, i in enumerate(IDS, 1)
]


class FakeTarget(TargetBase):
    """A linearizable register/set on one leader; the others answer 421-style redirects.

    ``hang(op)`` says which ops are applied but never answered (a time-out), and
    ``fail_first`` makes the first few ops fail as if no leader were elected.
    """

    name = "fake"

    def __init__(
        self,
        *,
        leader: str = "n1",
        hang: Callable[[Mapping[str, Any]], bool] = lambda op: False,
        fail_first: int = 0,
        error: BaseException | None = None,
        indeterminate: Callable[[Mapping[str, Any]], bool] = lambda op: False,
    ) -> None:
        self.leader = leader
        self.hang = hang
        self.fail_first = fail_first
        self.error = error
        self.indeterminate = indeterminate
        self.registers: dict[str, Any] = {}
        self.set: set[int] = set()
        self.calls = 0

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        self.calls += 1
        await asyncio.sleep(0.001)
        if self.error is not None:
            raise self.error
        if self.calls <= self.fail_first:
            return Outcome("fail", error="no leader")
        if node.id != self.leader:
            return Outcome("fail", redirect=self.leader)
        value = self._apply(op)
        if self.indeterminate(op):
            return Outcome("info", error="indeterminate")
        if self.hang(op):
            await asyncio.sleep(3600)
        return value

    def _apply(self, op: Mapping[str, Any]) -> Outcome:
        f, key, value = op["f"], op["key"], op["value"]
        if f == "read":
            return Outcome("ok", value=self.registers.get(key))
        if f == "write":
            self.registers[key] = value
            return Outcome("ok")
        if f == "cas":
            if self.registers.get(key) != value[0]:
                return Outcome("fail", error="cas mismatch")
            self.registers[key] = value[1]
            return Outcome("ok")
        if f == "add":
            self.set.add(value)
            return Outcome("ok")
        if f == "read-set":
            return Outcome("ok", value=sorted(self.set))
        raise AssertionError(f"unexpected op {op}")


class FakeLeader:
    def __init__(self, leader: str | None = None) -> None:
        self.leader = leader

    def current_leader(self) -> str | None:
        return self.leader


class History(list[Record]):
    def write(self, record: Record) -> None:
        self.append(record)


def is_hang(op: Mapping[str, Any]) -> bool:
    """Deterministic time-outs: a cas whose values are equal never answers."""
    return op["f"] == "cas" and op["value"][0] == op["value"][1]


async def _run(runner: ClientRunner, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(runner.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 10)


def run_clients(
    target: FakeTarget,
    *,
    seed: int = 1,
    concurrency: int = 3,
    seconds: float = 0.5,
    leader: str | None = None,
    workload: Workload | None = None,
    op_timeout: float = 0.05,
    final_timeout: float | None = None,
    bound: int = 0,
) -> tuple[History, ClientRunner, list[Record | None]]:
    history = History()

    async def main() -> tuple[ClientRunner, list[Record | None]]:
        async with httpx.AsyncClient() as http:
            runner = ClientRunner(
                target=target,
                nodes=NODES,
                workload=workload or workloads.RegisterWorkload(),
                history=history,
                clock=RunClock(),
                http=http,
                concurrency=concurrency,
                rng=random.Random(seed),
                op_timeout=op_timeout,
                leader=FakeLeader(leader),
                bound=bound,
            )
            await _run(runner, seconds)
            final = await runner.final(final_timeout) if final_timeout else []
            return runner, final

    runner, final = asyncio.run(main())
    return history, runner, final


def pairs(history: list[Record]) -> list[tuple[Record, Record]]:
    """Match each invoke with its completion; fail on any malformation."""
    assert [r["index"] for r in history] == list(range(len(history)))
    assert [r["time"] for r in history] == sorted(r["time"] for r in history)
    open_ops: dict[int, Record] = {}
    out = []
    for rec in history:
        p = rec["process"]
        if rec["type"] == "invoke":
            assert p not in open_ops, f"process {p} has two ops in flight"
            open_ops[p] = rec
        else:
            assert rec["type"] in ("ok", "fail", "info")
            inv = open_ops.pop(p)
            assert (inv["f"], inv["key"]) == (rec["f"], rec["key"])
            out.append((inv, rec))
    assert open_ops == {}, "every invoke has a completion"
    return out


def test_history_is_well_formed_and_info_retires_the_process() -> None:
    target = FakeTarget(hang=is_hang)
    history, runner, _ = run_clients(target, seconds=1.0, op_timeout=0.2)
    ops = pairs(history)
    assert runner.ops_done == len(ops) > 30
    assert {c["type"] for _, c in ops} == {"ok", "fail", "info"}
    by_slot: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for inv, comp in ops:
        assert inv["node"] == comp["node"]
        if is_hang(inv) and inv["node"] == target.leader:
            assert comp["type"] == "info"
        if comp["type"] == "info":
            assert comp["error"] == "timeout"
        by_slot[inv["process"] % 3].append((inv["process"], comp["type"]))
    assert sorted(by_slot) == [0, 1, 2]
    for slot, seq in by_slot.items():
        assert seq[0][0] == slot
        for (p, outcome), (q, _) in itertools.pairwise(seq):
            assert q == (p + 3 if outcome == "info" else p), "info, and only info, retires"


def test_reads_record_the_value_read() -> None:
    history, _, _ = run_clients(FakeTarget(), seconds=0.3)
    state: dict[str, Any] = {}
    ok_reads = 0
    for inv, comp in pairs(history):
        if comp["type"] != "ok":
            continue
        if inv["f"] == "write":
            state[inv["key"]] = inv["value"]
            assert comp["value"] == inv["value"]
        elif inv["f"] == "cas":
            state[inv["key"]] = inv["value"][1]
            assert comp["value"] == inv["value"]
        else:
            ok_reads += 1
            assert comp["value"] == state.get(inv["key"])
    assert ok_reads > 0


def test_redirects_are_followed_and_a_serving_node_is_kept() -> None:
    history, _, _ = run_clients(FakeTarget(leader="n3"), leader="n2", seconds=0.3)
    ops = pairs(history)
    redirects = [c for _, c in ops if c.get("error") == "not leader; redirect to n3"]
    assert redirects and all(c["node"] == "n2" for c in redirects)
    expected: dict[int, str] = {}
    checked = 0
    for inv, comp in ops:
        slot = inv["process"] % 3
        if slot in expected:
            assert inv["node"] == expected.pop(slot)
            checked += 1
        if comp["type"] == "ok" or comp in redirects:
            expected[slot] = "n3"
    assert checked > 20
    assert sum(i["node"] == "n3" for i, _ in ops) > len(ops) / 2


def test_same_seed_same_ops_per_process() -> None:
    """Deterministic target (one leader, op-determined outcomes): same seed, same ops."""

    def sequences(seed: int) -> dict[int, list[tuple[Any, ...]]]:
        target = FakeTarget(indeterminate=is_hang)
        history, _, _ = run_clients(target, seed=seed, seconds=0.4, op_timeout=5.0, leader="n1")
        seqs: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
        for inv, _comp in pairs(history):
            seqs[inv["process"] % 3].append((inv["process"], inv["f"], inv["key"], inv["value"]))
        return seqs

    a, b, c = sequences(5), sequences(5), sequences(6)
    for slot in range(3):
        n = min(len(a[slot]), len(b[slot]))
        assert n > 5
        assert a[slot][:n] == b[slot][:n]
    assert any(a[s][:5] != c[s][:5] for s in range(3))


def test_transport_errors_map_to_fail_or_info() -> None:
    refused = FakeTarget(error=httpx.ConnectError("refused"))
    history, _, _ = run_clients(refused, concurrency=1, seconds=0.1)
    assert {c["type"] for _, c in pairs(history)} == {"fail"}
    broken = FakeTarget(error=httpx.ReadError("reset"))
    history, _, _ = run_clients(broken, concurrency=1, seconds=0.1)
    completions = [c for _, c in pairs(history)]
    assert {c["type"] for c in completions} == {"info"}
    assert [c["process"] for c in completions[:3]] == [0, 1, 2]


def test_cancelled_client_records_info_for_the_op_in_flight() -> None:
    history = History()

    async def main() -> None:
        async with httpx.AsyncClient() as http:
            runner = ClientRunner(
                target=FakeTarget(hang=lambda op: True),
                nodes=NODES,
                workload=workloads.RegisterWorkload(),
                history=history,
                clock=RunClock(),
                http=http,
                concurrency=2,
                rng=random.Random(1),
                op_timeout=60.0,
                leader=FakeLeader("n1"),
            )
            task = asyncio.create_task(runner.run(asyncio.Event()))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    ops = pairs(history)
    assert len(ops) == 2
    assert all(c["type"] == "info" and c["error"] == "cancelled" for _, c in ops)


def test_set_final_read_retries_until_ok_as_a_fresh_process() -> None:
    target = FakeTarget()
    history, _runner, final = run_clients(
        target,
        workload=workloads.SetWorkload(),
        seconds=0.2,
        final_timeout=5.0,
        leader="n1",
    )
    ops = pairs(history)
    (done,) = final
    assert done is not None and done["f"] == "read-set" and done["type"] == "ok"
    acked = {i["value"] for i, c in ops if i["f"] == "add" and c["type"] == "ok"}
    assert acked and acked <= set(done["value"])
    assert done["process"] > max(i["process"] for i, _ in ops if i["f"] == "add")


def test_final_gives_up_after_the_timeout() -> None:
    target = FakeTarget(fail_first=10**9)
    history, _, final = run_clients(
        target,
        workload=workloads.SetWorkload(),
        concurrency=0,
        seconds=0.0,
        final_timeout=0.5,
    )
    assert final == [None]
    ops = pairs(history)
    assert len(ops) >= 2 and all(c["type"] == "fail" for _, c in ops)


def test_none_workload_records_nothing() -> None:
    history, runner, _ = run_clients(FakeTarget(), workload=workloads.NoWorkload(), seconds=0.2)
    assert history == [] and runner.ops_done == 0


def test_bound_clients_stay_on_their_node_whatever_it_answers() -> None:
    target = FakeTarget(leader="n1", indeterminate=lambda op: op["f"] == "write")
    history, runner, _ = run_clients(target, concurrency=2, bound=4, leader="n1", seconds=0.8)
    done = pairs(history)
    stride = 6  # process numbers stride by every client, bound ones included
    by_client: dict[int, set[str]] = {}
    for inv, _ in done:
        by_client.setdefault(inv["process"] % stride, set()).add(inv["node"])
    assert by_client[2] == {"n1"} and by_client[5] == {"n1"}  # bound 0 and 3: n1
    assert by_client[3] == {"n2"} and by_client[4] == {"n3"}
    assert by_client[0] == {"n1"} and by_client[1] == {"n1"}  # followers of the leader
    refused = [c for inv, c in done if inv["process"] % stride == 3]
    assert refused and all(c["type"] == "fail" for c in refused)
    # Each refusal costs the bound client an extra pause: it does not hammer a follower.
    assert len(refused) <= 0.8 / BOUND_REFUSED_PAUSE_S + 1
    assert runner.concurrency == stride
