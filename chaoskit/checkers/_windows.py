"""The failure window of a key that is not linearizable: the smallest run of operations
that no order explains, and the operation the search could never get past."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from chaoskit.checkers._history import (
    NO_RETURN,
)
from chaoskit.checkers._models import (
    ValueModel,
)
from chaoskit.checkers._search import Operation, search

#: How many window checks the shrinking of a failure may spend.
_WINDOW_TRIES = 40


# ---------------------------------------------------------------- failure windows


def smallest_window(
    ops: Sequence[Operation],
    blocked: int,
    states: Iterable[Any],
    model: ValueModel,
    deadline: float,
) -> tuple[list[Operation], int]:
    """A short run of operations, ending at the blocked return, that no order explains.

    The window ``[s, T]`` ends at the return ``T`` of the operation the search could
    not get past. Operations that return before ``s`` are left out (their effect is
    in the starting state); those that overlap an edge of the window may or may not
    be taken inside it. The window fails only if it fails from every state the key
    may hold at ``s`` (``_start_states``; with appends, which make that set large,
    every state the full search reached), so it is a self-contained witness.
    Galloping back from the blocked call finds a small ``s``; when the deadline
    comes first, the whole key is returned (the search showed it fails).

    Returns the window and the blocked operation, which changes when the history up
    to the blocked return turns out linearizable: a cut of the search (the append
    guard) can stop it at an innocent return while the culprit returns later. The
    culprit is then the first return at which the history stops being linearizable.
    """
    end = ops[blocked].ret
    assert end is not None
    starts = sorted({op.call for op in ops if op.call <= ops[blocked].call}, reverse=True)
    pool = list(states)
    tries = 0

    def fails(k: int) -> bool:
        nonlocal tries
        tries += 1
        window = _window(ops, starts[k], end)
        if k == len(starts) - 1:
            froms = [model.init]
        elif exact:
            froms = _start_states(ops, starts[k], model)
        else:
            froms = _extending(pool, ops, starts[k], model)
        for j, s in enumerate(froms):
            if time.monotonic() >= deadline:
                return False
            if search(window, model, deadline, init=s).valid is not False:
                # A state a window succeeds from likely explains the next window too.
                froms.insert(0, froms.pop(j))
                return False
        return True

    good, k = -1, 0  # good: largest index known not to fail
    exact = not any(model.appends(op.step) for op in ops)
    while k < len(starts) - 1 and tries < _WINDOW_TRIES and not fails(k):
        good, k = k, min(len(starts) - 1, 2 * k + 1)
    if k == len(starts) - 1 or tries >= _WINDOW_TRIES:
        k = len(starts) - 1
        if not fails(k):
            if time.monotonic() >= deadline:
                return list(ops), blocked  # no time to find a smaller witness: the key
            culprit = _first_failing_return(ops, end, model, deadline)
            if culprit is None or time.monotonic() >= deadline:
                return list(ops), blocked
            return smallest_window(ops, culprit, states, model, deadline)
    while k - good > 1 and tries < _WINDOW_TRIES:
        mid = (good + k) // 2
        good, k = (good, mid) if fails(mid) else (mid, k)
    window = _window(ops, starts[k], end)
    if exact:  # the writes that leave the window's starting states, to show them too
        window += _last_writes(ops, starts[k], model)
    return sorted(window, key=lambda op: op.call), blocked


def _first_failing_return(
    ops: Sequence[Operation], after: int, model: ValueModel, deadline: float
) -> int | None:
    """The operation returning first after ``after`` at which the history stops being
    linearizable (a prefix that fails keeps failing as it grows): a binary search."""
    ends = sorted({op.ret for op in ops if op.ret is not None and op.ret > after})
    lo, hi = 0, len(ends) - 1  # the answer is in ends[lo..hi], if the whole key fails
    if not ends:
        return None
    while lo < hi and time.monotonic() < deadline:
        mid = (lo + hi) // 2
        prefix = _window(ops, -NO_RETURN, ends[mid])
        if search(prefix, model, deadline).valid is False:
            hi = mid
        else:
            lo = mid + 1
    return next(i for i, op in enumerate(ops) if op.ret == ends[lo])


def _start_states(ops: Sequence[Operation], start: int, model: ValueModel) -> list[Any]:
    """Every state the key may hold at ``start`` (for models without appends).

    Only writes (and compare-and-sets) that returned before ``start`` set it, and of
    those only one that no other surely followed (called after it returned) can be
    the last: its value is a candidate. With no write before ``start``, the initial
    state. Operations still running at ``start`` are optional in the window.
    """
    last = _last_writes(ops, start, model)
    return list({model.written(op.step) for op in last}) if last else [model.init]


def _last_writes(ops: Sequence[Operation], start: int, model: ValueModel) -> list[Operation]:
    """The writes returned before ``start`` that no other write surely followed."""
    done = [op for op in ops if op.ret is not None and op.ret < start and model.resets(op.step)]
    latest = max((op.call for op in done), default=0)
    return [op for op in done if op.ret is not None and op.ret >= latest]


def _extending(
    pool: list[Any], ops: Sequence[Operation], start: int, model: ValueModel
) -> list[Any]:
    """The states of ``pool`` the key may hold at ``start``, with appends in the model.

    The state then is what the last write before it left, followed by appends. That
    write returned before ``start`` (a candidate of ``_start_states``) or was still
    running (its value counts too): a state that extends none of these values
    cannot be held at ``start``. The initial state always stays, so that the window
    fails from it too and shows the failure on its own. The pool's order is kept.
    """
    bases = set(_start_states(ops, start, model))
    running = [op for op in ops if op.call < start and (op.ret is None or op.ret >= start)]
    bases |= {model.written(op.step) for op in running if model.resets(op.step)}
    if not all(isinstance(b, str) for b in bases):
        return pool  # a key never written holds None, which any append extends
    return [
        s
        for s in pool
        if s == model.init or (isinstance(s, str) and any(s.startswith(b) for b in bases))
    ]


def _window(ops: Sequence[Operation], start: int, end: int) -> list[Operation]:
    """The operations of ``[start, end]``; those crossing an edge become optional."""
    out = []
    for op in ops:
        if op.call > end or (op.ret is not None and op.ret < start):
            continue
        inside = op.ret is not None and op.call >= start and op.ret <= end
        out.append(op if inside else op._replace(ret=None))
    return out


# ---------------------------------------------------------------- the whole history


def later_windows(
    ops: Sequence[Operation], first_end: int, model: ValueModel, deadline: float
) -> tuple[list[list[Operation]], bool]:
    """The failing windows of a key after the first one (which ends at ``first_end``).

    Past a failure the key's state is unknown, so each later window must fail from
    *every* state the key could hold: the initial one and every value written to it.
    From the end ``T`` of the last window found: the operations returning after ``T``
    (those called before it become optional) are searched from each such state; if
    one explains them all, there is no further window. Otherwise the earliest return
    by which every start state has failed (each search stops at its first failing
    return) ends the next window; its start is moved as late as the window still fails
    from every state. Each window is a self-contained witness, disjoint in time from
    the others, so their number is a lower bound of the key's independent failures.

    Returns the windows and whether the search got to the end of the key's history
    (False: ``deadline`` came first, or the model appends, where the states a key may
    hold are not a short list of written values).
    """
    if any(model.appends(op.step) for op in ops):
        return [], False
    states = list({model.init, *(model.written(op.step) for op in ops if model.resets(op.step))})
    windows: list[list[Operation]] = []
    end = first_end
    while True:
        rest = _window(ops, end + 1, NO_RETURN)
        if all(op.ret is None for op in rest):
            return windows, True
        ends: list[int] = []
        for state in states:
            outcome = search(rest, model, deadline, init=state)
            if outcome.valid is None:
                return windows, False
            if outcome.valid:
                return windows, True
            assert outcome.blocked is not None
            blocked_ret = rest[outcome.blocked].ret
            assert blocked_ret is not None
            ends.append(blocked_ret)
        new_end = max(ends)
        window = _latest_start(ops, end, new_end, states, model, deadline)
        if window is None:
            return windows, False
        windows.append(window)
        end = new_end


def _latest_start(
    ops: Sequence[Operation],
    after: int,
    end: int,
    states: Sequence[Any],
    model: ValueModel,
    deadline: float,
) -> list[Operation] | None:
    """The window ``[s, end]`` with the latest start ``s > after`` that fails from every
    state in ``states`` (``[after + 1, end]`` does); None when ``deadline`` comes first.

    Galloping back from the last call before ``end``, then halving, as
    ``smallest_window`` does; the window returned is one that was seen to fail.
    """
    starts = sorted({op.call for op in ops if after < op.call <= end}, reverse=True)
    starts.append(after + 1)
    tries = 0

    def fails(k: int) -> bool | None:
        nonlocal tries
        tries += 1
        window = _window(ops, starts[k], end)
        for state in states:
            outcome = search(window, model, deadline, init=state)
            if outcome.valid is None:
                return None
            if outcome.valid:
                return False
        return True

    good, k = -1, 0
    while k < len(starts) - 1 and tries < _WINDOW_TRIES:
        found = fails(k)
        if found is None:
            return None
        if found:
            break
        good, k = k, min(len(starts) - 1, 2 * k + 1)
    else:
        k = len(starts) - 1  # known to fail
    while k - good > 1 and tries < _WINDOW_TRIES:
        mid = (good + k) // 2
        found = fails(mid)
        if found is None:
            return None
        good, k = (good, mid) if found else (mid, k)
    return sorted(_window(ops, starts[k], end), key=lambda op: op.call)
