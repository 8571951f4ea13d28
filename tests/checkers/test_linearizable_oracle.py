"""The optimised checker against a brute-force oracle, on small random histories.

The oracle knows nothing of the checker: it reads the records with their plain
meaning (an ``ok`` op happened between its invocation and completion, a ``fail``
never happened, an ``info`` or unfinished op happened once at any time after its
invocation or never), splits them by key and tries every subset of the uncertain
ops in every order that respects real time. Histories come both from a simulated
atomic store (linearizable by construction, sometimes with one read corrupted)
and from random results, so both verdicts are well represented; the checker sees
them as records in memory and as a JSONL file read by the fast decoder.
"""

from __future__ import annotations

import itertools
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.checkers._models import get_model
from chaoskit.checkers.history_formats import check_history_file
from chaoskit.checkers.linearizable import LinearizableChecker
from chaoskit.core.checker import RunData

Op = dict[str, Any]  # one operation: key, f, arg, result, outcome, call, ret, done_at

_NEVER = object()  # a read whose value must not match any state


def _apply(model: str, state: Any, op: Op, certain: bool) -> Any:
    """The state after ``op``, or _NEVER when it cannot have returned what it did."""
    f, arg = op["f"], op["arg"]
    if f in ("read", "get"):
        return state if state == op["result"] else _NEVER
    if f in ("write", "put"):
        return arg
    if f == "append":
        return (state or "") + arg
    # cas: when certain (ok) it must compare equal; an uncertain one may find another value
    if state == arg[0]:
        return arg[1]
    return _NEVER if certain else state


def _linearizable_key(model: str, ops: list[Op]) -> bool:
    mandatory = [o for o in ops if o["outcome"] == "ok"]
    optional = [o for o in ops if o["outcome"] in ("info", "none")]
    for r in range(len(optional) + 1):
        for chosen in itertools.combinations(optional, r):
            for order in itertools.permutations(mandatory + list(chosen)):
                if _respects_time(order) and _legal(model, order):
                    return True
    return False


def _respects_time(order: tuple[Op, ...]) -> bool:
    return all(
        not (b["ret"] is not None and b["ret"] < a["call"])
        for i, a in enumerate(order)
        for b in order[i + 1 :]
    )


def _legal(model: str, order: tuple[Op, ...]) -> bool:
    state = None
    for op in order:
        state = _apply(model, state, op, op["outcome"] == "ok")
        if state is _NEVER:
            return False
    return True


def oracle(model: str, ops: list[Op]) -> bool:
    """Every key linearizable, by brute force; failed ops and failed reads left out."""
    kept = [o for o in ops if o["outcome"] != "fail"]
    kept = [o for o in kept if not (o["f"] in ("read", "get") and o["outcome"] != "ok")]
    keys = {o["key"] for o in kept}
    return all(_linearizable_key(model, [o for o in kept if o["key"] == k]) for k in keys)


def records(ops: list[Op]) -> list[dict[str, Any]]:
    """chaoskit history records of the ops: each op its own process, in time order."""
    events = []
    for p, op in enumerate(ops):
        base = {"process": p, "f": op["f"], "key": op["key"]}
        events.append((op["call"], 0, {**base, "type": "invoke", "value": op["arg"]}))
        if op["outcome"] != "none":
            value = op["result"] if op["f"] in ("read", "get") else op["arg"]
            events.append((op["done_at"], 1, {**base, "type": op["outcome"], "value": value}))
    events.sort(key=lambda e: (e[0], e[1]))
    out = []
    for i, (t, _, rec) in enumerate(events):
        out.append({"index": i, **rec, "time": t})
    return out


def _ops_of(shown: list[dict[str, Any]], ops: list[Op]) -> list[Op]:
    """The operations whose records an anomaly shows (a process is one operation here)."""
    return [ops[p] for p in sorted({r["process"] for r in shown})]


_REGISTER_FS = ("read", "write", "cas")
_KV_FS = ("get", "put", "append")


@st.composite
def histories(draw: Any) -> tuple[str, list[Op]]:
    """A model and 1-6 ops on one or two keys: simulated, maybe corrupted, or random."""
    model = draw(st.sampled_from(["register", "kv"]))
    n = draw(st.integers(1, 6))
    simulated = draw(st.booleans())
    ops: list[Op] = []
    for _ in range(n):
        call = draw(st.integers(0, 12))
        ret = call + draw(st.integers(0, 6))
        f = draw(st.sampled_from(_REGISTER_FS if model == "register" else _KV_FS))
        if f == "cas":
            arg: Any = [draw(st.integers(0, 2)), draw(st.integers(0, 2))]
        elif f in ("write", "put"):
            arg = draw(st.integers(0, 2)) if model == "register" else draw(st.sampled_from("ab"))
        elif f == "append":
            arg = draw(st.sampled_from("ab"))
        else:
            arg = None
        outcome = draw(st.sampled_from(["ok", "ok", "ok", "info", "fail", "none"]))
        key = draw(st.sampled_from(["x", "y"]))
        ops.append({"key": key, "f": f, "arg": arg, "outcome": outcome, "call": call, "ret": ret})
    if simulated:
        _simulate(model, ops, draw(st.randoms(use_true_random=False)))
        if draw(st.booleans()):
            reads = [o for o in ops if o["f"] in ("read", "get") and o["outcome"] == "ok"]
            if reads:
                draw(st.sampled_from(reads))["result"] = draw(_values(model))
    else:
        for o in ops:
            o["result"] = draw(_values(model))
            if o["f"] == "cas" and o["outcome"] == "ok" and draw(st.booleans()):
                o["outcome"] = "fail"
    for o in ops:
        o["done_at"] = o["ret"]  # the completion record's time (an info one has one too)
        if o["outcome"] in ("info", "none"):
            o["ret"] = None
    return model, ops


def _values(model: str) -> Any:
    if model == "register":
        return st.sampled_from([None, 0, 1, 2])
    return st.sampled_from([None, "a", "b", "ab", "ba", "aa"])


def _simulate(model: str, ops: list[Op], rng: Any) -> None:
    """Results of an atomic store: each op takes effect at a point inside its span.

    An ``info`` op took effect or not (a coin); a ``fail`` op never did, and a cas
    that found another value is recorded as ``fail``.
    """
    state: dict[str, Any] = {}
    points = sorted(ops, key=lambda o: o["call"] + rng.random() * (o["ret"] - o["call"]))
    for op in points:
        if op["outcome"] == "fail" or (op["outcome"] in ("info", "none") and rng.random() < 0.5):
            op["result"] = None
            continue
        cur = state.get(op["key"])
        new = _apply(model, cur, {**op, "result": cur}, True)
        if new is _NEVER:  # a cas that compared unequal
            if op["outcome"] == "ok":
                op["outcome"] = "fail"
            op["result"] = None
            continue
        op["result"] = cur
        state[op["key"]] = new


@settings(max_examples=600, deadline=None)
@given(histories())
def test_checker_agrees_with_brute_force(case: tuple[str, list[Op]]) -> None:
    model, ops = case
    expected = oracle(model, ops)
    recs = records(ops)
    result = LinearizableChecker().check(RunData(recs, [], [], {"model": model}))
    m = get_model(model)
    if not any(o["outcome"] == "ok" and o["f"] in m.reads | m.cas_fs for o in ops):
        # Nothing observed the state: the run is no evidence either way.
        assert result.valid == "unknown" and expected is True, (ops, result)
        return
    assert result.valid is expected, (ops, result.anomalies)
    if expected is False:
        # Each anomaly shows records of its own key, taken from the history, and is a
        # witness on its own: the oracle finds no order for its operations either.
        for anomaly in result.anomalies:
            assert anomaly["ops"] and all(r in recs for r in anomaly["ops"])
            assert {r["key"] for r in anomaly["ops"]} == {anomaly["key"]}
            assert oracle(model, _ops_of(anomaly["ops"], ops)) is False
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "history.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in recs))
        from_file = check_history_file(path, model)
        assert from_file.valid is expected
        assert from_file.metrics["format"] == "chaoskit"
        assert [a["ops"] for a in from_file.anomalies] == [a["ops"] for a in result.anomalies]


def test_the_generated_histories_cover_both_verdicts() -> None:
    """A guard on the strategy: both verdicts, info and fail ops all occur."""
    seen: Counter[str] = Counter()

    @settings(max_examples=300, deadline=None, database=None)
    @given(histories())
    def sample(case: tuple[str, list[Op]]) -> None:
        model, ops = case
        seen[f"valid={oracle(model, ops)}"] += 1
        seen.update(o["outcome"] for o in ops)

    sample()
    assert seen["valid=True"] > 25 and seen["valid=False"] > 25, seen
    assert seen["info"] and seen["fail"] and seen["none"], seen
