"""The ``linearizable`` checker: a client history against a sequential model, key by key.

The search is Wing & Gong's with Lowe's memoisation, as Porcupine does it: the
call and return events of one key sit in a doubly linked list sorted by time; the
search repeatedly *lifts* a call whose step is legal (taking it and its return out
of the list), and backtracks when it meets a return whose call it has not
linearized. A set of (linearized ops as an int bitset, model state) pairs cuts
every configuration reached twice. Keys are independent (P-compositionality), so
each key is searched alone and memory follows the busiest key.

Operations with an unknown outcome (``info``, or never completed) have no return
event: they may take effect at any time after their invocation, or never. The
search succeeds as soon as every operation that has a return event is linearized.

When a key is not linearizable, the checker shrinks the failure to a small window
of operations that no order explains, starting from any state the search met, and
reports it with the operation the search could never get past.
"""

from __future__ import annotations

import time
from array import array
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from chaoskit.checkers._models import (
    BAD,
    MODEL_NAMES,
    READ,
    WRITE,
    Outcome,
    Step,
    ValueModel,
    freeze,
    get_model,
)
from chaoskit.core.checker import CheckResult, RunData, Verdict, merge_verdicts
from chaoskit.core.records import Record
from chaoskit.errors import HistoryFormatError

#: Seconds of search per key before that key's verdict becomes ``unknown``.
DEFAULT_BUDGET = 60.0
#: Seconds of search per key in the first pass, before any key gets the full budget.
QUICK_BUDGET = 0.1
#: How many window checks the shrinking of a failure may spend.
_WINDOW_TRIES = 40
#: Above this many reached states, a window starts at the beginning of the key.
_WINDOW_STATES = 256
#: Backtracks between two looks at the clock.
_CLOCK_EVERY = 0x3FF
_INF = float("inf")
#: Seconds the shrinking of a failure may always spend, however fast the search was.
_SHRINK_FLOOR = 0.25


class Operation(NamedTuple):
    """One client operation of one key, paired and encoded for the search."""

    call: int
    #: Return time; None when the outcome is unknown (it may take effect or not).
    ret: int | None
    step: Step
    invoke: Record
    done: Record | None


@dataclass
class KeyVerdict:
    """The verdict for one key, and on failure the window that shows it."""

    key: Hashable
    valid: Verdict
    ops: int
    seconds: float
    blocked: Operation | None = None
    window: list[Operation] | None = None


# ---------------------------------------------------------------- pairing


def partition(
    history: Sequence[Record], where: Callable[[int], str] | None = None
) -> dict[Hashable, tuple[array[int], array[int]]]:
    """Pair invocations with completions by process, and group them by key.

    Returns, per key, two parallel arrays of positions in ``history``: the invoke
    and its completion (-1 when the operation never completed). Positions keep the
    partition compact: the records are not copied. Raises ``HistoryFormatError``
    for a completion without an invocation or a process invoking twice.
    """
    where = where or (lambda i: f"history record {i + 1}")
    pending: dict[Any, int] = {}
    keys: dict[Hashable, tuple[array[int], array[int]]] = {}
    for i, rec in enumerate(history):
        kind = rec.get("type")
        proc = rec.get("process")
        if kind == "invoke":
            if proc in pending:
                raise HistoryFormatError(f"{where(i)}: process {proc} invokes twice")
            pending[proc] = i
        elif kind in ("ok", "fail", "info"):
            inv = pending.pop(proc, None)
            if inv is None:
                raise HistoryFormatError(f"{where(i)}: {kind} of process {proc} without invoke")
            if rec.get("f") != history[inv].get("f"):
                raise HistoryFormatError(f"{where(i)}: completion f differs from its invoke")
            invs, dones = _slot(keys, history[inv])
            invs.append(inv)
            dones.append(i)
        else:
            raise HistoryFormatError(f"{where(i)}: unknown type {kind!r}")
    for inv in pending.values():
        invs, dones = _slot(keys, history[inv])
        invs.append(inv)
        dones.append(-1)
    return keys


def _slot(
    keys: dict[Hashable, tuple[array[int], array[int]]], invoke: Record
) -> tuple[array[int], array[int]]:
    key = freeze(invoke.get("key"))
    slot = keys.get(key)
    if slot is None:
        slot = keys[key] = (array("q"), array("q"))
    return slot


def encode_ops(
    history: Sequence[Record],
    pairs: tuple[array[int], array[int]],
    model: ValueModel,
    *,
    cas_fail_is_miss: bool = False,
    where: Callable[[int], str] | None = None,
) -> list[Operation]:
    """The operations of one key, encoded for ``model``; dropped ones left out."""
    where = where or (lambda i: f"history record {i + 1}")
    ops: list[Operation] = []
    for inv, done in zip(*pairs, strict=True):
        invoke = history[inv]
        completion = history[done] if done >= 0 else None
        outcome: Outcome = completion["type"] if completion is not None else "info"
        try:
            step = model.encode(
                invoke["f"],
                invoke.get("value"),
                completion.get("value") if completion is not None else None,
                outcome,
                cas_fail_is_miss=cas_fail_is_miss,
            )
            call = int(invoke["time"])
            ret = int(completion["time"]) if completion is not None and outcome != "info" else None
        except (KeyError, TypeError, ValueError) as exc:
            raise HistoryFormatError(f"{where(inv)}: {_reason(exc)}") from exc
        if step is not None:
            ops.append(Operation(call, ret, step, invoke, completion))
    return ops


def _reason(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc)


# ---------------------------------------------------------------- the search


@dataclass
class SearchOutcome:
    """What one search found: a verdict (None: out of budget) and failure clues."""

    valid: bool | None
    #: Index of the operation whose return no configuration got past.
    blocked: int | None = None
    #: Every model state the search reached (to start windows from).
    states: set[Any] | None = None


def search(
    ops: Sequence[Operation], model: ValueModel, deadline: float, *, init: Any = BAD
) -> SearchOutcome:
    """Is there a legal order of ``ops`` that respects real time? (WGL + Lowe's cache).

    Operations with a return event sit in the main list with their returns; those
    without (optional: unknown outcome) sit in a list of their own and are tried only
    after every main candidate, so a search takes them only when it needs them.
    Four cuts keep the search small, each sound because the configuration it skips
    can do nothing that one already explored cannot:

    - the cache: (mandatory ops taken, optional ops taken, state) seen before;
    - subsumption: same mandatory ops and state, but a superset of optional ops
      taken: the one entered before has every choice the new one has;
    - siblings: at one depth, a candidate whose step equals one already tried there,
      with no earlier deadline (swap the two in any order that works);
    - pure ops (reads): one that is legal now is taken now, with no alternative:
      moving it to the front of any order that works keeps that order working;
    - appends: when a pending read returned the string ``v`` and no write can come
      before it, only appends can, so the state must stay a prefix of ``v``.
    """
    start = model.init if init is BAD else init
    ev = _EventLists(ops)
    nxt, prv, callop, ctime, rtime, retnode = (
        ev.nxt,
        ev.prv,
        ev.callop,
        ev.ctime,
        ev.rtime,
        ev.retnode,
    )
    ohead = ev.ohead
    steps = [op.step for op in ops]
    ids: dict[Step, int] = {}
    sid = [ids.setdefault(s, len(ids)) for s in steps]
    rets = [_INF if op.ret is None else op.ret for op in ops]
    pure = [op.ret is not None and model.is_pure(op.step) for op in ops]
    apply = model.step
    # Reads and writes are inlined in the loop (most steps); the rest go to ``apply``.
    inline = type(model).step is ValueModel.step
    codes = [s[0] if inline and s[0] in (READ, WRITE) else -1 for s in steps]
    arg1 = [s[1] if len(s) > 1 else None for s in steps]
    app = [model.appends(s) for s in steps]
    guarded = any(app)
    resets = [model.resets(s) for s in steps]
    otail = ev.otail
    retop = ev.retop

    def guard_of() -> Any:
        """The string the state must stay a prefix of, or None (see the docstring)."""
        node = nxt[0]
        v: Any = BAD
        while not isinstance(v, str):
            if node == ohead - 1:
                return None
            i = callop[node]
            if i >= 0:
                if resets[i]:
                    return None
            else:
                v = model.read_value(steps[retop[node]])
            node = nxt[node]
        t = rtime[prv[node]]
        node = nxt[ohead]
        while node != otail and ctime[node] <= t:
            if resets[callop[node]]:
                return None
            node = nxt[node]
        return v

    remaining = sum(1 for op in ops if op.ret is not None)
    if remaining == 0:
        return SearchOutcome(True)

    # (mandatory bits, state) -> optional-bit sets already entered with them.
    cache: dict[tuple[int, Any], list[int]] = {}
    stack: list[tuple[int, Any, int, int, dict[int, float] | None, float, bool, Any]] = []
    state: Any = start
    mand = opt = 0
    tried: dict[int, float] | None = None  # this depth: step id -> earliest deadline tried
    limit: float = _INF  # time of the first pending return: optional calls must precede it
    frontier = backtracks = 0
    dead = otail
    guard = guard_of() if guarded else None
    e = nxt[0]
    while True:
        i = callop[e]
        if i >= 0 and ctime[e] <= limit:
            if tried is not None:
                done = tried.get(sid[i])
                if done is not None and done <= rets[i]:
                    e = nxt[e]
                    continue
            code = codes[i]
            if code == READ:
                new = state if state == arg1[i] else BAD
            elif code == WRITE:
                new = arg1[i]
            else:
                new = apply(state, steps[i])
            if guard is not None and app[i] and not guard.startswith(new):
                new = BAD
            if new is not BAD:
                r = retnode[i]
                if r:
                    nm, no = mand | (1 << i), opt
                else:
                    nm, no = mand, opt | (1 << i)
                forced = pure[i]
                ck = (nm, new)
                bucket = cache.get(ck)
                if bucket is None:
                    cache[ck] = [no]
                else:
                    for old in bucket:
                        if old | no == no:
                            break
                    else:
                        old = -1
                    if old != -1:
                        # Seen before (or something with more choices). For a pure
                        # op that settles this configuration too: a dead end.
                        e = dead if forced else nxt[e]
                        continue
                    bucket.append(no)
                stack.append((e, state, mand, opt, tried, limit, forced, guard))
                tried = None
                state, mand, opt = new, nm, no
                p = prv[e]
                q = nxt[e]
                nxt[p] = q
                prv[q] = p
                if r:
                    p = prv[r]
                    q = nxt[r]
                    nxt[p] = q
                    prv[q] = p
                    remaining -= 1
                    if not remaining:
                        return SearchOutcome(True)
                if guarded:
                    guard = guard_of()
                e = nxt[0]
                continue
            e = nxt[e]
            continue
        if i < 0 and e < ohead:
            # The first pending return: main candidates are exhausted; try optional ones.
            if e > frontier:
                frontier = e
            limit = rtime[e]
            e = nxt[ohead]
            continue
        # Past the optional candidates: this configuration is a dead end.
        if not stack:
            states = {s for _, s in cache}
            states.add(start)
            return SearchOutcome(False, ev.retop[frontier], states)
        backtracks += 1
        if not backtracks & _CLOCK_EVERY and time.monotonic() > deadline:
            return SearchOutcome(None)
        e, state, mand, opt, tried, limit, forced, guard = stack.pop()
        i = callop[e]
        if tried is None:
            tried = {}
        done = tried.get(sid[i])
        if done is None or rets[i] < done:
            tried[sid[i]] = rets[i]
        r = retnode[i]
        if r:
            nxt[prv[r]] = r
            prv[nxt[r]] = r
            remaining += 1
        nxt[prv[e]] = e
        prv[nxt[e]] = e
        # A pure op was this configuration's only choice: its failure is this one's.
        e = dead if forced else nxt[e]


class _EventLists:
    """Two doubly linked lists over node numbers, for the search to lift and unlift.

    Main list: head 0, then the call and return events of operations that have a
    return, sorted by time (calls before returns at equal times: they overlap), then
    its tail. Optional list: head ``ohead``, the calls of operations without a
    return, by call time, then its tail ``otail``. Heads and tails have no op (-1).
    """

    def __init__(self, ops: Sequence[Operation]) -> None:
        main = [(op.call, 0, i) for i, op in enumerate(ops) if op.ret is not None]
        main += [(op.ret, 1, i) for i, op in enumerate(ops) if op.ret is not None]
        main.sort()
        extra = sorted((op.call, i) for i, op in enumerate(ops) if op.ret is None)
        m, k = len(main), len(extra)
        self.ohead = ohead = m + 2
        size = m + k + 4
        self.nxt = [*range(1, size), size - 1]
        self.prv = [0, *range(0, size - 1)]
        self.nxt[m + 1] = m + 1  # main tail
        self.prv[ohead] = ohead
        self.callop = [-1] * size
        self.ctime: list[float] = [-_INF] * size
        self.ctime[size - 1] = _INF
        self.rtime: list[float] = [_INF] * size
        self.retop = [-1] * size
        self.retnode = [0] * len(ops)
        for node, (t, kind, i) in enumerate(main, start=1):
            if kind == 0:
                self.callop[node] = i
            else:
                self.retop[node] = i
                self.retnode[i] = node
                self.rtime[node] = t
        for node, (t, i) in enumerate(extra, start=ohead + 1):
            self.callop[node] = i
            self.ctime[node] = t
        self.otail = size - 1


# ---------------------------------------------------------------- failure windows


def smallest_window(
    ops: Sequence[Operation],
    blocked: int,
    states: Iterable[Any],
    model: ValueModel,
    deadline: float,
) -> list[Operation]:
    """A short run of operations, ending at the blocked return, that no order explains.

    The window ``[s, T]`` ends at the return ``T`` of the operation the search could
    not get past. Operations that return before ``s`` are left out (their effect is
    in the starting state); those that overlap an edge of the window may or may not
    be taken inside it. The window fails only if it fails from every state the full
    search reached, so it is a self-contained witness. Galloping back from the
    blocked call finds a small ``s``; with no luck the whole prefix is returned.
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
        froms = [model.init] if k == len(starts) - 1 else pool
        for j, s in enumerate(froms):
            if time.monotonic() >= deadline:
                return False
            if search(window, model, deadline, init=s).valid is not False:
                # A state a window succeeds from likely explains the next window too.
                froms.insert(0, froms.pop(j))
                return False
        return True

    good, k = -1, 0  # good: largest index known not to fail
    if len(pool) > _WINDOW_STATES:
        k = len(starts) - 1  # too many starting states to try: the whole prefix
    while k < len(starts) - 1 and tries < _WINDOW_TRIES and not fails(k):
        good, k = k, min(len(starts) - 1, 2 * k + 1)
    if k == len(starts) - 1 or tries >= _WINDOW_TRIES:
        k = len(starts) - 1
        if not fails(k):
            return [op for op in ops if op.call <= end]
    while k - good > 1 and tries < _WINDOW_TRIES:
        mid = (good + k) // 2
        good, k = (good, mid) if fails(mid) else (mid, k)
    window = _window(ops, starts[k], end)
    return sorted((op for op in window), key=lambda op: op.call)


def _window(ops: Sequence[Operation], start: int, end: int) -> list[Operation]:
    """The operations of ``[start, end]``; those crossing an edge become optional."""
    out = []
    for op in ops:
        if op.call > end or (op.ret is not None and op.ret < start):
            continue
        inside = op.ret is not None and op.call >= start and op.ret <= end
        out.append(op if inside else op._replace(ret=None))
    return out


# ---------------------------------------------------------------- per key


def check_key(
    key: Hashable, ops: Sequence[Operation], model: ValueModel, budget: float
) -> KeyVerdict:
    """Search one key's operations; on failure, find the window that shows it."""
    t0 = time.monotonic()
    outcome = search(ops, model, t0 + budget)
    verdict = KeyVerdict(
        key, outcome.valid if outcome.valid is not None else "unknown", len(ops), 0.0
    )
    if outcome.valid is False and outcome.blocked is not None:
        verdict.blocked = ops[outcome.blocked]
        # Shrinking is a nicety: about as long as the search took (at least a floor).
        spent = time.monotonic() - t0
        deadline = time.monotonic() + max(_SHRINK_FLOOR, min(budget, 2 * spent))
        verdict.window = smallest_window(
            ops, outcome.blocked, outcome.states or (), model, deadline
        )
    verdict.seconds = time.monotonic() - t0
    return verdict


def check_ops_by_key(
    history: Sequence[Record],
    model: ValueModel,
    *,
    budget: float = DEFAULT_BUDGET,
    cas_fail_is_miss: bool = False,
    where: Callable[[int], str] | None = None,
) -> CheckResult:
    """Check a whole history, one key at a time, into a ``CheckResult``.

    Keys are searched smallest first with a short budget each (``QUICK_BUDGET``):
    most keys settle in it. One failing key makes the history not linearizable, so
    the keys still unsettled then are not searched again and stay ``unknown``
    (listed in the metrics); only when no key failed do they get the full budget.
    The verdict never waits on a hard key once another key has shown a failure.
    """
    t0 = time.monotonic()
    parts = partition(history, where)
    order = sorted(parts, key=lambda k: (len(parts[k][0]), repr(k)))
    quick = min(budget, QUICK_BUDGET)
    verdicts: list[KeyVerdict] = []
    hard: list[Hashable] = []
    for key in order:
        verdict = _check_part(history, key, parts, model, quick, cas_fail_is_miss, where)
        if verdict.valid == "unknown" and budget > quick:
            hard.append(key)
        else:
            parts.pop(key)
            verdicts.append(verdict)
    failed = any(v.valid is False for v in verdicts)
    for key in hard:
        if failed:
            verdicts.append(KeyVerdict(key, "unknown", len(parts[key][0]), 0.0))
            continue
        verdict = _check_part(history, key, parts, model, budget, cas_fail_is_miss, where)
        failed = verdict.valid is False
        verdicts.append(verdict)
    verdicts.sort(key=lambda v: repr(v.key))
    return _result(verdicts, model, time.monotonic() - t0)


def _check_part(
    history: Sequence[Record],
    key: Hashable,
    parts: dict[Hashable, tuple[array[int], array[int]]],
    model: ValueModel,
    budget: float,
    cas_fail_is_miss: bool,
    where: Callable[[int], str] | None,
) -> KeyVerdict:
    ops = encode_ops(history, parts[key], model, cas_fail_is_miss=cas_fail_is_miss, where=where)
    return check_key(key, ops, model, budget)


def _result(verdicts: list[KeyVerdict], model: ValueModel, seconds: float) -> CheckResult:
    busiest = max(verdicts, key=lambda v: v.ops, default=None)
    metrics: dict[str, Any] = {
        "checked": True,
        "model": model.name,
        "ops": sum(v.ops for v in verdicts),
        "keys": len(verdicts),
        "seconds": round(seconds, 3),
        "busiest_key": _show_key(busiest.key) if busiest else None,
        "busiest_key_ops": busiest.ops if busiest else 0,
        "unknown_keys": [_show_key(v.key) for v in verdicts if v.valid == "unknown"],
    }
    failed = [v for v in verdicts if v.valid is False]
    failed.sort(key=lambda v: len(v.window or ()))
    return CheckResult(
        valid=merge_verdicts([v.valid for v in verdicts]),
        anomalies=[_anomaly(v, model) for v in failed],
        metrics=metrics,
    )


def _show_key(key: Hashable) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _anomaly(v: KeyVerdict, model: ValueModel) -> dict[str, Any]:
    window = v.window or []
    records: list[Record] = []
    for op in window:
        records.append(op.invoke)
        if op.done is not None:
            records.append(op.done)
    records.sort(key=lambda r: (r.get("time", 0), r.get("index", 0)))
    start = min((op.call for op in window), default=0)
    end = max((op.ret for op in window if op.ret is not None), default=start)
    blocked = v.blocked
    what = (
        f"{model.describe(blocked.step)} by process {blocked.invoke.get('process')}"
        if blocked is not None
        else "an operation"
    )
    return {
        "kind": "non-linearizable",
        "key": _show_key(v.key),
        "keys": [_show_key(v.key)],
        "start": start,
        "end": end,
        "ops": records,
        "message": (
            f"key {_show_key(v.key)!r}: no order of these {len(window)} operations is legal "
            f"for a {model.name}; the search never got past the return of {what}"
        ),
    }


# ---------------------------------------------------------------- the checker


class LinearizableChecker:
    """Client history against the workload's model (register, kv), key by key."""

    name = "linearizable"
    description = (
        "every key's client history has a legal sequential order that respects real time "
        "(Wing & Gong search with Lowe's memoisation; info ops may take effect or not)"
    )

    def __init__(self, *, budget: float = DEFAULT_BUDGET) -> None:
        self.budget = budget

    def check(self, run: RunData) -> CheckResult:
        """Check ``run.history`` against ``run.config['model']``."""
        history = run.history
        if not any(r.get("type") == "invoke" for r in history):
            return CheckResult(valid=True, metrics={"checked": False, "ops": 0})
        name = run.config.get("model")
        if name not in MODEL_NAMES:
            why = "the workload names no model" if name is None else f"unknown model {name!r}"
            return CheckResult(
                valid="unknown", metrics={"checked": False}, error=f"{why}: nothing checked"
            )
        budget = float(run.config.get("linearizable_budget", self.budget))
        try:
            return check_ops_by_key(history, get_model(name), budget=budget)
        except HistoryFormatError as exc:
            return CheckResult(valid="unknown", metrics={"checked": False}, error=str(exc))
