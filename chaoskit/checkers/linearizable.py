"""The ``linearizable`` checker: a client history against a sequential model, key by key.

The search is Wing & Gong's with Lowe's memoisation, as Porcupine does it: the
call and return events of one key sit in a doubly linked list sorted by time; the
search repeatedly *lifts* a call whose step is legal (taking it and its return out
of the list), and backtracks when it meets a return whose call it has not
linearized. A set of (linearized ops as an int bitset, model state) pairs cuts
every configuration reached twice. Keys are independent (P-compositionality), so
each key is searched alone.

The history is read into a compact form first (``_history``: typed columns per
key, no object per operation). Keys are searched in turns, smallest first, a slice
of work each, as Porcupine runs one goroutine per key: a key that fails quickly
settles the verdict however hard the others are. After the first failure the
other keys get a quarter as much more work as it took to find it (so the keys that
fail about as fast are reported too), then stop: the verdict is settled, and
Porcupine stops at once. Each key has a time budget, and all keys
together a memory budget (growth of the process's resident memory): running out
of either ends that key's search with ``unknown`` and the reason, never with the
process running out of memory.

Operations with an unknown outcome (``info``, or never completed) have no return
event: they may take effect at any time after their invocation, or never. The
search succeeds as soon as every operation that has a return event is linearized.

When a key is not linearizable, the checker shrinks the failure to a small window
of operations that no order explains, starting from any state the search met, and
reports it with the operation the search could never get past.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Generator, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from chaoskit._checker import CheckResult, RunData, Verdict, merge_verdicts
from chaoskit._errors import HistoryFormatError
from chaoskit._records import Record
from chaoskit.checkers._history import (
    NO_RETURN,
    CompactHistory,
    KeyOps,
    compact_records,
    gc_paused,
)
from chaoskit.checkers._models import (
    BAD,
    MODEL_NAMES,
    READ,
    WRITE,
    Step,
    ValueModel,
    get_model,
)

#: Seconds of search per key before that key's verdict becomes ``unknown``.
DEFAULT_BUDGET = 60.0
#: MiB the process's resident memory may grow by during a check before the biggest
#: search still running is dropped (its key's verdict becomes ``unknown``).
DEFAULT_MEMORY_MB = 2048
#: Loop iterations (lifts and backtracks) in one slice of a key's search, minus one.
_SLICE = 0x3FF
#: Slices between two looks at the process's resident memory.
_MEMORY_EVERY = 8
#: How many window checks the shrinking of a failure may spend.
_WINDOW_TRIES = 40
#: Seconds the shrinking of the first failure found may always spend, however fast
#: the search was; and of each other failing key reported besides it.
_SHRINK_FLOOR = 0.25
_SHRINK_FLOOR_OTHERS = 0.05
#: After the first failing key, the others get this share of the slices spent until
#: then, and at least ``_MIN_ALLOWANCE`` slices.
_ALLOWANCE_SHARE = 4  # a quarter
_MIN_ALLOWANCE = 4


class Operation(NamedTuple):
    """One operation of one key, for window shrinking and reports (failures only).

    ``inv`` and ``done`` are the positions of its records in the source history
    (``done`` -1 when it never completed).
    """

    call: int
    #: Return time; None when the outcome is unknown (it may take effect or not).
    ret: int | None
    step: Step
    inv: int = -1
    done: int = -1


@dataclass
class KeyVerdict:
    """The verdict for one key, and on failure the window that shows it."""

    key: Hashable
    valid: Verdict
    ops: int
    seconds: float
    blocked: Operation | None = None
    window: list[Operation] | None = None
    #: Why the verdict is ``unknown`` (which budget ran out).
    reason: str | None = None


# ---------------------------------------------------------------- the search


@dataclass
class SearchOutcome:
    """What one search found: a verdict (None: out of budget) and failure clues."""

    valid: bool | None
    #: Index of the operation whose return no configuration got past.
    blocked: int | None = None
    #: Every model state the search reached (to start windows from).
    states: set[Any] | None = None


#: A search in progress: yields its number of cached configurations after every
#: slice of work, and returns its outcome.
Search = Generator[int, None, SearchOutcome]


def search(
    ops: Sequence[Operation], model: ValueModel, deadline: float, *, init: Any = BAD
) -> SearchOutcome:
    """Is there a legal order of ``ops`` that respects real time? (WGL + Lowe's cache).

    The whole search at once, until ``deadline`` (``time.monotonic()``): verdict None
    when it is reached. See ``search_steps`` for the algorithm.
    """
    ids: dict[Step, int] = {}
    sid = [ids.setdefault(op.step, len(ids)) for op in ops]
    rets = [NO_RETURN if op.ret is None else op.ret for op in ops]
    table = StepTable(list(ids), model)
    steps = search_steps([op.call for op in ops], rets, sid, table, model, init=init)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            outcome: SearchOutcome = stop.value
            return outcome
        if time.monotonic() > deadline:
            steps.close()
            return SearchOutcome(None)


def search_steps(
    calls: Sequence[int],
    rets: Sequence[int],
    sid: Sequence[int],
    table: StepTable,
    model: ValueModel,
    *,
    init: Any = BAD,
) -> Search:
    """The search over one key's operations, as a generator that works in slices.

    Operation ``i`` is called at ``calls[i]``, returns at ``rets[i]`` (``NO_RETURN``:
    unknown outcome) and does step ``table.steps[sid[i]]``. Operations with a return event
    sit in the main list with their returns; those without (optional) sit in a list
    of their own and are tried only after every main candidate, so a search takes
    them only when it needs them. Five cuts keep the search small, each sound because
    the configuration it skips can do nothing that one already explored cannot:

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
    ev = _EventLists(calls, rets)
    nxt, prv, callop, ctime, rtime, retnode = (
        ev.nxt,
        ev.prv,
        ev.callop,
        ev.ctime,
        ev.rtime,
        ev.retnode,
    )
    ohead = ev.ohead
    apply = model.step
    # Per operation, looked up from the per-step table (computed once per history);
    # what only appends need is worked out only for keys that have appends.
    codes = list(map(table.code.__getitem__, sid))
    arg1 = list(map(table.arg1.__getitem__, sid))
    steps = list(map(table.steps.__getitem__, sid))
    pure = [table.pure[s] and r != NO_RETURN for s, r in zip(sid, rets, strict=True)]
    guarded = any(map(table.appends.__getitem__, sid))
    app = list(map(table.appends.__getitem__, sid)) if guarded else []
    resets = list(map(table.resets.__getitem__, sid)) if guarded else []
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

    remaining = ev.mandatory
    if remaining == 0:
        return SearchOutcome(True)

    # (mandatory bits, state) -> optional-bit sets already entered with them: one int
    # (almost always: most histories have few unknown outcomes), or a list of them.
    cache: dict[tuple[int, Any], int | list[int]] = {}
    stack: list[tuple[int, Any, int, int, dict[int, int] | None, int, bool, Any]] = []
    state: Any = start
    mand = opt = 0
    tried: dict[int, int] | None = None  # this depth: step id -> earliest deadline tried
    limit = NO_RETURN  # time of the first pending return: optional calls must precede it
    frontier = work = 0
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
                    cache[ck] = no
                else:
                    if isinstance(bucket, int):
                        hit = bucket | no == no
                        if not hit:
                            cache[ck] = [bucket, no]
                    else:
                        for old in bucket:
                            if old | no == no:
                                hit = True
                                break
                        else:
                            hit = False
                            bucket.append(no)
                    if hit:
                        # Seen before (or something with more choices). For a pure
                        # op that settles this configuration too: a dead end.
                        e = dead if forced else nxt[e]
                        continue
                work += 1
                if not work & _SLICE:
                    yield len(cache)
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
        work += 1
        if not work & _SLICE:
            yield len(cache)
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


class StepTable:
    """What the search needs to know of each distinct step, worked out once.

    Reads and writes get a code the loop applies inline (most steps); the rest
    (code -1) go through the model's ``step``.
    """

    def __init__(self, steps: Sequence[Step], model: ValueModel) -> None:
        inline = type(model).step is ValueModel.step
        self.steps = steps
        codes = [s[0] for s in steps]
        self.code = [c if inline and c in (READ, WRITE) else -1 for c in codes]
        self.arg1 = [s[1] if len(s) > 1 else None for s in steps]
        # The model's predicates look at a step's code only: ask once per code.
        first = {c: s for c, s in zip(codes, steps, strict=True)}
        self.pure = list(map({c: model.is_pure(s) for c, s in first.items()}.__getitem__, codes))
        self.appends = list(map({c: model.appends(s) for c, s in first.items()}.__getitem__, codes))
        self.resets = list(map({c: model.resets(s) for c, s in first.items()}.__getitem__, codes))


class _EventLists:
    """Two doubly linked lists over node numbers, for the search to lift and unlift.

    Main list: head 0, then the call and return events of operations that have a
    return, sorted by time (calls before returns at equal times: they overlap), then
    its tail. Optional list: head ``ohead``, the calls of operations without a
    return, by call time, then its tail ``otail``. Heads and tails have no op (-1).
    """

    def __init__(self, calls: Sequence[int], rets: Sequence[int]) -> None:
        main = [i for i, r in enumerate(rets) if r != NO_RETURN]
        extra = [i for i, r in enumerate(rets) if r == NO_RETURN]
        m = self.mandatory = len(main)
        # Calls first, then returns, sorted stably by time: a call sorts before a
        # return at the same time (they overlap), and equal calls keep op order.
        times = [calls[i] for i in main] + [rets[i] for i in main]
        order = sorted(range(2 * m), key=times.__getitem__)
        extra.sort(key=calls.__getitem__)
        self.ohead = ohead = 2 * m + 2
        size = ohead + len(extra) + 2
        self.nxt = [*range(1, size), size - 1]
        self.prv = [0, *range(0, size - 1)]
        self.nxt[ohead - 1] = ohead - 1  # main tail
        self.prv[ohead] = ohead
        self.callop = callop = [-1] * size
        self.ctime = ctime = [-NO_RETURN] * size
        ctime[size - 1] = NO_RETURN
        self.rtime = rtime = [NO_RETURN] * size
        self.retop = retop = [-1] * size
        self.retnode = retnode = [0] * len(calls)
        for node, j in enumerate(order, start=1):
            if j < m:
                callop[node] = main[j]
            else:
                i = main[j - m]
                retop[node] = i
                retnode[i] = node
                rtime[node] = times[j]
        for node, i in enumerate(extra, start=ohead + 1):
            callop[node] = i
            ctime[node] = calls[i]
        self.otail = size - 1


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


# ---------------------------------------------------------------- keys in turns


@dataclass
class _Job:
    """One key's search in progress."""

    key: Hashable
    ops: KeyOps
    search: Search
    seconds: float = 0.0
    states: int = 0
    over: bool = False  # settled, out of budget, or stopped

    def stop(self) -> None:
        self.over = True
        self.search.close()  # frees its cache now


def check_history(
    history: CompactHistory,
    model: ValueModel,
    *,
    budget: float = DEFAULT_BUDGET,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> CheckResult:
    """Check every key of a compact history into a ``CheckResult``.

    Keys take turns, smallest first, one slice of work each (see the module
    docstring); ``budget`` is the seconds of search each key may spend, ``memory_mb``
    how far the process's resident memory may grow while they run.
    """
    with gc_paused():
        return _check_keys(history, model, budget, memory_mb)


def _check_keys(
    history: CompactHistory, model: ValueModel, budget: float, memory_mb: float
) -> CheckResult:
    t0 = time.monotonic()
    order = sorted(history.keys.values(), key=lambda k: (len(k), repr(k.key)))
    table = StepTable(history.steps, model)
    live = [_Job(k.key, k, search_steps(k.call, k.ret, k.step, table, model)) for k in order]
    verdicts: list[KeyVerdict] = []
    failures: list[tuple[_Job, SearchOutcome]] = []
    memory = _MemoryBudget(memory_mb)
    slices = 0
    allowance: int | None = None  # slices left for the others once a key failed
    while live:
        for job in live:
            if job.over:  # dropped for memory earlier in this round
                continue
            slices += 1
            outcome = _advance(job)
            if outcome is not None:
                job.over = True
                if outcome.valid is False:
                    failures.append((job, outcome))
                    if allowance is None:
                        allowance = max(slices // _ALLOWANCE_SHARE, _MIN_ALLOWANCE)
                else:
                    verdicts.append(KeyVerdict(job.key, True, len(job.ops), job.seconds))
            elif job.seconds > budget:
                job.stop()
                verdicts.append(_unknown(job, f"time budget of {budget:g} s per key exhausted"))
            if not slices % _MEMORY_EVERY and memory.exceeded():
                running = [j for j in live if not j.over]
                if running:
                    biggest = max(running, key=lambda j: j.states)
                    biggest.stop()
                    reason = f"memory budget of {memory_mb:g} MiB exhausted"
                    states = biggest.states
                    verdicts.append(_unknown(biggest, f"{reason} ({states} configurations)"))
                    memory.rebase()
        live = [job for job in live if not job.over]
        if allowance is not None:
            allowance -= len(live)
            if allowance <= 0:
                for job in live:
                    job.stop()
                    verdicts.append(_unknown(job, "not searched further: another key failed"))
                live = []
    for job, outcome in failures:
        # The first failure found gets the larger floor to shrink its window.
        floor = _SHRINK_FLOOR if job is failures[0][0] else _SHRINK_FLOOR_OTHERS
        verdicts.append(_failure(job, outcome, history, model, budget, floor))
    verdicts.sort(key=lambda v: repr(v.key))
    return _result(verdicts, history, model, time.monotonic() - t0)


def _advance(job: _Job) -> SearchOutcome | None:
    """One slice of a key's search: its outcome when it ends, else None."""
    t = time.perf_counter()
    try:
        job.states = next(job.search)
    except StopIteration as stop:
        outcome: SearchOutcome = stop.value
        return outcome
    finally:
        job.seconds += time.perf_counter() - t
    return None


def _unknown(job: _Job, reason: str) -> KeyVerdict:
    return KeyVerdict(job.key, "unknown", len(job.ops), job.seconds, reason=reason)


def _failure(
    job: _Job,
    outcome: SearchOutcome,
    history: CompactHistory,
    model: ValueModel,
    budget: float,
    floor: float,
) -> KeyVerdict:
    """The verdict of a failing key, with the window that shows the failure."""
    verdict = KeyVerdict(job.key, False, len(job.ops), job.seconds)
    if outcome.blocked is None:
        return verdict
    k = job.ops
    ops = [
        Operation(c, None if r == NO_RETURN else r, history.steps[s], i, d)
        for c, r, s, i, d in zip(k.call, k.ret, k.step, k.inv, k.done, strict=True)
    ]
    verdict.blocked = ops[outcome.blocked]
    # Shrinking is a nicety: about as long as the search took (at least the floor).
    t0 = time.monotonic()
    deadline = t0 + max(floor, min(budget, 2 * job.seconds))
    verdict.window, blocked = smallest_window(
        ops, outcome.blocked, outcome.states or (), model, deadline
    )
    verdict.blocked = ops[blocked]
    verdict.seconds += time.monotonic() - t0
    return verdict


class _MemoryBudget:
    """How far the process's resident memory has grown since the check began.

    Read from ``/proc/self/statm`` (Linux); elsewhere from the peak resident size,
    which only errs towards stopping early. After a search is dropped its memory
    may stay with the allocator, so the baseline moves up to what remains then.
    """

    def __init__(self, limit_mb: float) -> None:
        self.limit = int(limit_mb * 2**20)
        self.base = _rss()

    def exceeded(self) -> bool:
        return _rss() - self.base > self.limit

    def rebase(self) -> None:
        self.base = max(self.base, _rss())


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    """Resident bytes of this process now (or its peak where that is all we can read)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check_ops_by_key(
    history: Sequence[Record],
    model: ValueModel,
    *,
    budget: float = DEFAULT_BUDGET,
    memory_mb: float = DEFAULT_MEMORY_MB,
    cas_fail_is_miss: bool = False,
    where: Callable[[int], str] | None = None,
) -> CheckResult:
    """Check records already in memory (dicts) into a ``CheckResult`` (``check_history``)."""
    compact = compact_records(history, model, cas_fail_is_miss=cas_fail_is_miss, where=where)
    return check_history(compact, model, budget=budget, memory_mb=memory_mb)


def _result(
    verdicts: list[KeyVerdict], history: CompactHistory, model: ValueModel, seconds: float
) -> CheckResult:
    busiest = max(verdicts, key=lambda v: v.ops, default=None)
    unknown = [v for v in verdicts if v.valid == "unknown"]
    metrics: dict[str, Any] = {
        "checked": True,
        "model": model.name,
        "ops": sum(v.ops for v in verdicts),
        "keys": len(verdicts),
        "seconds": round(seconds, 3),
        "busiest_key": _show_key(busiest.key) if busiest else None,
        "busiest_key_ops": busiest.ops if busiest else 0,
        "unknown_keys": [_show_key(v.key) for v in unknown],
    }
    failed = [v for v in verdicts if v.valid is False]
    failed.sort(key=lambda v: len(v.window or ()))
    valid = merge_verdicts([v.valid for v in verdicts])
    error = None
    if valid == "unknown":
        error = "; ".join(f"key {_show_key(v.key)!r}: {v.reason}" for v in unknown[:3])
        if len(unknown) > 3:
            error += f"; and {len(unknown) - 3} more keys"
    return CheckResult(
        valid=valid,
        anomalies=[_anomaly(v, history, model) for v in failed],
        metrics=metrics,
        error=error,
    )


def _show_key(key: Hashable) -> Any:
    return list(key) if isinstance(key, tuple) else key


def _anomaly(v: KeyVerdict, history: CompactHistory, model: ValueModel) -> dict[str, Any]:
    window = v.window or []
    records: list[Record] = []
    for op in window:
        records.append(history.record(op.inv))
        if op.done >= 0:
            records.append(history.record(op.done))
    records.sort(key=lambda r: (r.get("time", 0), r.get("index", 0)))
    start = min((op.call for op in window), default=0)
    end = max((op.ret for op in window if op.ret is not None), default=start)
    blocked = v.blocked
    what = (
        f"{model.describe(blocked.step)} by process {history.record(blocked.inv).get('process')}"
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

    def __init__(
        self, *, budget: float = DEFAULT_BUDGET, memory_mb: float = DEFAULT_MEMORY_MB
    ) -> None:
        self.budget = budget
        self.memory_mb = memory_mb

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
        memory_mb = float(run.config.get("linearizable_memory_mb", self.memory_mb))
        try:
            return check_ops_by_key(history, get_model(name), budget=budget, memory_mb=memory_mb)
        except HistoryFormatError as exc:
            return CheckResult(valid="unknown", metrics={"checked": False}, error=str(exc))
