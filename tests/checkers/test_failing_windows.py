"""How much of a history fails: failing windows counted over the whole key, not only
the first; each a witness on its own (it fails from every state the key may hold)."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.checkers._history import compact_records
from chaoskit.checkers._models import get_model
from chaoskit.checkers._search import Operation, search
from chaoskit.checkers._windows import later_windows
from chaoskit.checkers.figures import headline
from chaoskit.checkers.linearizable import LinearizableChecker, check_history
from chaoskit.core.checker import RunData
from tests.checkers.test_linearizable import brute_force, history, small_histories

S = 1_000_000_000
REGISTER = get_model("register")


def stale_read_at(t: int, proc: int) -> list[tuple[int, str, Any, int, str, Any, int]]:
    """At ``t``: write 1, then a read of 0 (a value from before it), then write 0 again."""
    return [
        (proc, "write", 1, t, "ok", 1, t + 10),
        (proc + 1, "read", None, t + 20, "ok", 0, t + 30),
        (proc + 2, "write", 0, t + 40, "ok", 0, t + 50),
        (proc + 3, "read", None, t + 60, "ok", 0, t + 70),
    ]


def test_every_failing_window_of_a_key_is_counted_and_told_by_its_faults() -> None:
    ops = [(1, "write", 0, 0, "ok", 0, 5)]
    for i, t in enumerate((1 * S, 5 * S, 9 * S)):
        ops += stale_read_at(t, 10 * (i + 1))
    nemesis = [
        {"time": 4 * S, "type": "start", "id": 1, "fault": "partition", "cut": []},
        {"time": 6 * S, "type": "stop", "id": 1, "fault": "partition"},
    ]
    config = {"model": "register", "election_deadline": 5.0, "end_time": 10 * S}
    result = LinearizableChecker().check(RunData(history(*ops), [], nemesis, config))
    assert result.valid is False
    [anomaly] = result.anomalies
    assert anomaly["failing_windows"] == 3 and anomaly["counted"] is True
    starts = [w["start"] for w in anomaly["windows"]]
    assert starts[0] < 1 * S + 30 and 5 * S <= starts[1] < 5 * S + 30 <= 9 * S <= starts[2]
    assert [w["faults"] for w in anomaly["windows"]] == [[], ["partition#1"], []]
    assert anomaly["windows"][2]["after_faults"][0]["fault"] == "partition#1"
    assert "; in all: 3 failing windows, " in anomaly["message"]
    m = result.metrics
    assert m["failing_keys"] == 1 and m["failing_windows"] == 3
    assert m["failing_ops"] == sum(w["ops"] for w in anomaly["windows"])
    assert m["failing_share"] == round(m["failing_ops"] / m["ops"], 4)
    assert m["failing_counted"] is True


def test_a_key_that_fails_once_has_one_window() -> None:
    ops = [(1, "write", 0, 0, "ok", 0, 5), *stale_read_at(100, 10)]
    ops += [(20, "write", 2, 500, "ok", 2, 510), (21, "read", None, 520, "ok", 2, 530)]
    result = LinearizableChecker().check(RunData(history(*ops), [], [], {"model": "register"}))
    [anomaly] = result.anomalies
    assert anomaly["failing_windows"] == 1
    assert "in all:" not in anomaly["message"]


@st.composite
def segmented(draw: Any) -> list[Operation]:
    """Two to three small histories one after the other in time."""
    out: list[Operation] = []
    for i in range(draw(st.integers(2, 3))):
        for op in draw(small_histories()):
            shift = 100 * i
            ret = None if op.ret is None else op.ret + shift
            out.append(op._replace(call=op.call + shift, ret=ret))
    return out


@settings(max_examples=200, deadline=None)
@given(segmented())
def test_each_later_window_fails_from_every_state_the_key_may_hold(ops: list[Operation]) -> None:
    deadline = time.monotonic() + 30
    outcome = search(ops, REGISTER, deadline)
    if outcome.valid is not False:
        return
    assert outcome.blocked is not None
    first_end = ops[outcome.blocked].ret
    assert first_end is not None
    windows, counted = later_windows(ops, first_end, REGISTER, deadline)
    assert counted
    # The states the key may hold: its initial one and every value written to it.
    states = {None} | {op.step[-1] for op in ops if REGISTER.resets(op.step)}
    end = first_end
    for window in windows:
        mandatory = [op for op in window if op.ret is not None]
        assert mandatory and all(op.call > end for op in mandatory)  # after the last one
        for state in states:
            # The definition for small windows; the search (agreeing with it on small
            # histories: test_linearizable) for the others.
            if len(window) <= 6:
                assert brute_force(window, init=state) is False, (window, state)
            else:
                assert search(window, REGISTER, deadline, init=state).valid is False
        end = max(op.ret for op in mandatory if op.ret is not None)
    # Past the last window some state explains the rest: what returned after it (what
    # was called before its end may have taken effect before: optional), when small.
    rest = [
        op if op.call > end else op._replace(ret=None)
        for op in ops
        if op.ret is None or op.ret > end
    ]
    if len(rest) <= 6:
        assert any(brute_force(rest, init=s) for s in states)


def test_a_count_stopped_early_is_a_lower_bound_and_says_so() -> None:
    ops = [(1, "write", 0, 0, "ok", 0, 5)]
    for i, t in enumerate((1 * S, 5 * S)):
        ops += stale_read_at(t, 10 * (i + 1))
    records = history(*ops)
    compact = compact_records(records, REGISTER)
    result = check_history(compact, REGISTER, count=False)
    [anomaly] = result.anomalies
    assert anomaly["counted"] is False and anomaly["failing_windows"] == 1
    assert "(counting stopped early: at least)" in anomaly["message"]
    assert result.metrics["failing_counted"] is False
    assert headline(result.metrics)[-1][1].endswith("; at least)")
