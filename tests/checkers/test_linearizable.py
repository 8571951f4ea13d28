"""Unit tests of the linearizable checker: small histories, an oracle, and the result shape."""

from __future__ import annotations

import itertools
import random
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.checkers._models import BAD, get_model
from chaoskit.checkers._search import Operation, search
from chaoskit.checkers.linearizable import LinearizableChecker
from chaoskit.core.checker import RunData

Op = tuple[int, str, Any, int, str, Any, int]  # process, f, arg, call, outcome, result, ret


def history(*ops: Op, key: str | None = "k") -> list[dict[str, Any]]:
    """Records from (process, f, arg, call, outcome, result, ret) tuples."""
    events = []
    for proc, f, arg, call, outcome, result, ret in ops:
        events.append(
            {"type": "invoke", "process": proc, "f": f, "key": key, "value": arg, "time": call}
        )
        if outcome != "none":
            events.append(
                {"type": outcome, "process": proc, "f": f, "key": key, "value": result, "time": ret}
            )
    events.sort(key=lambda r: r["time"])
    for i, r in enumerate(events):
        r["index"] = i
    return events


def check(records: list[dict[str, Any]], model: str | None = "register", **kw: Any) -> Any:
    return LinearizableChecker(**kw).check(RunData(records, [], [], {"model": model}))


def test_sequential_register_is_linearizable() -> None:
    h = history(
        (1, "write", 1, 0, "ok", 1, 10),
        (1, "read", None, 20, "ok", 1, 30),
        (1, "cas", [1, 2], 40, "ok", [1, 2], 50),
        (1, "read", None, 60, "ok", 2, 70),
    )
    result = check(h)
    assert result.valid is True
    assert result.metrics["ops"] == 4 and result.metrics["keys"] == 1


def test_stale_read_after_completed_write_is_caught() -> None:
    h = history(
        (1, "write", 1, 0, "ok", 1, 10),
        (2, "write", 2, 20, "ok", 2, 30),
        (1, "read", None, 40, "ok", 1, 50),
    )
    result = check(h)
    assert result.valid is False
    [anomaly] = result.anomalies
    assert anomaly["kind"] == "non-linearizable" and anomaly["key"] == "k"
    assert anomaly["end"] == 50
    assert {r["index"] for r in anomaly["ops"]} >= {4, 5}  # the stale read is in the window
    assert "read 1" in anomaly["message"]


def test_concurrent_read_may_see_either_value() -> None:
    h = history(
        (1, "write", 1, 0, "ok", 1, 10),
        (2, "write", 2, 20, "ok", 2, 60),
        (3, "read", None, 30, "ok", 1, 40),
        (4, "read", None, 45, "ok", 2, 50),
    )
    assert check(h).valid is True


def test_info_write_may_take_effect_late_or_never() -> None:
    late = history(
        (1, "write", 1, 0, "ok", 1, 10),
        (2, "write", 2, 20, "info", None, 30),
        (3, "read", None, 40, "ok", 1, 50),
        (3, "read", None, 60, "ok", 2, 70),
    )
    never = history(
        (1, "write", 1, 0, "ok", 1, 10),
        (2, "write", 2, 20, "info", None, 30),
        (3, "read", None, 40, "ok", 1, 50),
    )
    assert check(late).valid is True
    assert check(never).valid is True


def test_info_write_cannot_take_effect_before_its_invocation() -> None:
    h = history(
        (3, "read", None, 0, "ok", 2, 10),
        (2, "write", 2, 20, "info", None, 30),
    )
    assert check(h).valid is False


def test_unfinished_invocation_counts_as_info() -> None:
    h = history(
        (2, "write", 2, 0, "none", None, 0),
        (3, "read", None, 40, "ok", 2, 50),
    )
    assert check(h).valid is True


def test_failed_ops_are_dropped() -> None:
    h = history(
        (1, "write", 1, 0, "ok", 1, 10),
        (2, "write", 2, 20, "fail", None, 30),
        (3, "cas", [1, 3], 35, "fail", None, 38),
        (3, "read", None, 40, "ok", 2, 50),
    )
    assert check(h).valid is False  # the failed write must not explain the read of 2


def test_keys_are_checked_apart_and_reported_per_key() -> None:
    good = history((1, "put", "a", 0, "ok", "a", 10), (1, "get", None, 20, "ok", "a", 30), key="x")
    bad = history((2, "put", "b", 0, "ok", "b", 10), (2, "get", None, 20, "ok", "c", 30), key="y")
    records = sorted(good + bad, key=lambda r: r["time"])
    result = check(records, "kv")
    assert result.valid is False
    assert [a["key"] for a in result.anomalies] == ["y"]
    assert result.metrics["keys"] == 2


def test_no_model_is_unknown_and_an_empty_history_is_no_evidence() -> None:
    h = history((1, "write", 1, 0, "ok", 1, 10))
    assert check(h, None).valid == "unknown"
    empty = check([], None)
    assert empty.valid == "unknown" and empty.metrics["checked"] is False
    assert "no evidence" in (empty.error or "")


def test_a_history_whose_reads_all_ended_info_or_fail_is_unknown_never_valid() -> None:
    h = history(
        (1, "write", 1, 0, "ok", 1, 10),
        (2, "read", None, 20, "info", None, 30),
        (3, "read", None, 40, "fail", None, 50),
        (4, "cas", [1, 2], 60, "fail", None, 70),  # fail: it did not happen
        (5, "write", 2, 80, "none", None, 0),
    )
    result = check(h)
    assert result.valid == "unknown"
    assert "no read or compare-and-set completed ok" in (result.error or "")
    assert result.metrics["observing_ops"] == 0 and result.metrics["ops"] == 2
    # One ok read is evidence; so is an ok compare-and-set.
    assert check([*h, *history((6, "read", None, 90, "ok", 1, 95))]).valid is True
    cas = check([*h, *history((6, "cas", [1, 3], 90, "ok", None, 95))])
    assert cas.valid is True and cas.metrics["observing_ops"] == 1


def test_bad_pairing_is_unknown_with_the_error() -> None:
    records = [{"index": 0, "type": "ok", "process": 1, "f": "read", "value": 1, "time": 5}]
    records.insert(0, {"index": 0, "type": "invoke", "process": 2, "f": "read", "time": 1})
    result = check(records)
    assert result.valid == "unknown" and "without invoke" in (result.error or "")


def test_exhausted_budget_gives_unknown() -> None:
    rng = random.Random(7)
    # Many concurrent writes and a final impossible read: a large search space.
    ops = [(p, "write", rng.randrange(3), 0, "ok", None, 100 + p) for p in range(1, 22)]
    ops.append((99, "read", None, 200, "ok", 17, 210))
    result = check(history(*ops), budget=0.0)
    assert result.valid in ("unknown", False)
    if result.valid == "unknown":
        assert result.metrics["unknown_keys"] == ["k"]


# ---------------------------------------------------------------- an oracle


def brute_force(ops: list[Operation], init: Any = None) -> bool:
    """Every order of every subset of optional ops: the definition, for tiny histories."""
    model = get_model("register")
    mandatory = [o for o in ops if o.ret is not None]
    optional = [o for o in ops if o.ret is None]
    for r in range(len(optional) + 1):
        for chosen in itertools.combinations(optional, r):
            for order in itertools.permutations(mandatory + list(chosen)):
                if _respects_time(order) and _legal(order, model, init):
                    return True
    return False


def _respects_time(order: tuple[Operation, ...]) -> bool:
    return all(
        not (b.ret is not None and b.ret < a.call)
        for i, a in enumerate(order)
        for b in order[i + 1 :]
    )


def _legal(order: tuple[Operation, ...], model: Any, state: Any) -> bool:
    for op in order:
        state = model.step(state, op.step)
        if state is BAD:
            return False
    return True


@st.composite
def small_histories(draw: Any) -> list[Operation]:
    model = get_model("register")
    n = draw(st.integers(1, 6))
    ops = []
    for _ in range(n):
        call = draw(st.integers(0, 20))
        ret = call + draw(st.integers(0, 10))
        f = draw(st.sampled_from(["read", "write", "cas", "cas-miss"]))
        outcome = draw(st.sampled_from(["ok", "ok", "info"])) if f != "read" else "ok"
        value = draw(st.integers(0, 2))
        if f == "read":
            step = model.encode("read", None, draw(st.sampled_from([None, 0, 1, 2])), "ok")
        elif f == "write":
            step = model.encode("write", value, value, outcome)
        elif f == "cas":
            step = model.encode("cas", [value, draw(st.integers(0, 2))], None, outcome)
        else:
            step = model.encode("cas", [value, 0], None, "fail", cas_fail_is_miss=True)
            outcome = "ok"
        assert step is not None
        ops.append(Operation(call, ret if outcome == "ok" else None, step))
    return ops


@settings(max_examples=400, deadline=None)
@given(small_histories())
def test_search_agrees_with_brute_force(ops: list[Operation]) -> None:
    expected = brute_force(ops)
    got = search(ops, get_model("register"), time.monotonic() + 10).valid
    assert got is expected


def simulate(rng: random.Random, n_ops: int, keys: int, procs: int) -> list[dict[str, Any]]:
    """A linearizable history: clients against one atomic register per key."""
    state: dict[str, int | None] = {}
    records: list[dict[str, Any]] = []
    events = []
    next_proc = procs
    free = list(range(procs))
    t = 0
    busy: list[tuple[int, int, dict[str, Any], dict[str, Any]]] = []
    while n_ops or busy:
        if free and n_ops and rng.random() < 0.6:
            proc = free.pop(rng.randrange(len(free)))
            key = f"k{rng.randrange(keys)}"
            f = rng.choice(["read", "write", "cas"])
            arg = None if f == "read" else rng.randrange(4)
            if f == "cas":
                arg = [rng.randrange(4), rng.randrange(4)]
            inv = {
                "type": "invoke",
                "process": proc,
                "f": f,
                "key": key,
                "value": arg,
                "time": t + 0.75,
            }
            events.append(inv)
            lin_at = t + rng.randrange(1, 5)
            busy.append((lin_at, proc, inv, {}))
            n_ops -= 1
        t += 1
        for item in [b for b in busy if b[0] == t]:
            _, proc, inv, _ = item
            busy.remove(item)
            f, key, arg = inv["f"], inv["key"], inv["value"]
            cur = state.get(key)
            if f == "read":
                typ, val = "ok", cur
            elif f == "write":
                state[key], typ, val = arg, "ok", arg
            elif cur == arg[0]:
                state[key], typ, val = arg[1], "ok", arg
            else:
                typ, val = "fail", arg
            if f != "read" and rng.random() < 0.05:
                typ = "info"
                if rng.random() < 0.5 and f == "write":
                    state[key] = cur  # it never happened after all
            events.append(
                {"type": typ, "process": proc, "f": f, "key": key, "value": val, "time": t + 0.5}
            )
            if typ == "info":
                free.append(next_proc)
                next_proc += 1
            else:
                free.append(proc)
    events.sort(key=lambda r: r["time"])
    for i, r in enumerate(events):
        r["index"] = i
        r["time"] = int(r["time"] * 4)
    records.extend(events)
    return records


@pytest.mark.parametrize("seed", range(5))
def test_simulated_linearizable_histories_pass(seed: int) -> None:
    records = simulate(random.Random(seed), n_ops=400, keys=3, procs=6)
    result = check(records)
    assert result.valid is True, result.anomalies[:1]


@pytest.mark.parametrize("seed", range(5))
def test_a_corrupted_read_is_caught_or_still_explainable(seed: int) -> None:
    """Change one read to a value never written: that can never be explained."""
    records = simulate(random.Random(seed), n_ops=300, keys=2, procs=5)
    reads = [r for r in records if r["f"] == "read" and r["type"] == "ok"]
    victim = random.Random(seed).choice(reads)
    victim["value"] = 99
    result = check(records)
    assert result.valid is False
    [anomaly] = result.anomalies
    assert victim in anomaly["ops"]
    assert anomaly["start"] <= victim["time"] <= anomaly["end"]
