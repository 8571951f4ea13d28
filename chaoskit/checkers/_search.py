"""The linearizability search of one key: Wing & Gong with Lowe's memoisation.

The call and return events of one key sit in a doubly linked list sorted by time; the
search repeatedly *lifts* a call whose step is legal (taking it and its return out of
the list), and backtracks when it meets a return whose call it has not linearized. A
set of (linearized ops as an int bitset, model state) pairs cuts every configuration
reached twice. The search is a generator, so the checker can run keys in turns.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from chaoskit.checkers._history import (
    NO_RETURN,
)
from chaoskit.checkers._models import (
    BAD,
    READ,
    WRITE,
    Step,
    ValueModel,
)

#: Loop iterations (lifts and backtracks) in one slice of a key's search, minus one.
_SLICE = 0x3FF


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
