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
other keys get a quarter as much more work as it took to find it, and at least
``_AFTER_FAILURE_S`` seconds (so that the keys that fail, or pass, in that time are
in the figures of how much failed), then stop: the verdict is settled, and
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
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from chaoskit.checkers._history import (
    NO_RETURN,
    CompactHistory,
    KeyOps,
    compact_records,
    gc_paused,
)
from chaoskit.checkers._key_results import KeyVerdict, observing_ops, result, tell_faults
from chaoskit.checkers._models import (
    MODEL_NAMES,
    ValueModel,
    get_model,
)
from chaoskit.checkers._search import (
    Operation,
    Search,
    SearchOutcome,
    StepTable,
    search_steps,
)
from chaoskit.checkers._windows import later_windows, smallest_window
from chaoskit.core.checker import CheckResult, RunData
from chaoskit.core.records import Record
from chaoskit.errors import HistoryFormatError

#: Seconds of search per key before that key's verdict becomes ``unknown``.
DEFAULT_BUDGET = 60.0
#: MiB the process's resident memory may grow by during a check before the biggest
#: search still running is dropped (its key's verdict becomes ``unknown``).
DEFAULT_MEMORY_MB = 2048
#: Slices between two looks at the process's resident memory.
_MEMORY_EVERY = 8
#: Seconds the shrinking of the first failure found may always spend, however fast
#: the search was; and of each other failing key reported besides it.
_SHRINK_FLOOR = 0.25
_SHRINK_FLOOR_OTHERS = 0.05
#: After the first failing key, the others get this share of the slices spent until
#: then, and at least ``_MIN_ALLOWANCE`` slices.
_ALLOWANCE_SHARE = 4  # a quarter
_MIN_ALLOWANCE = 4
#: ...and at least this many seconds, so the figures of how much failed are complete
#: whenever the other keys settle that fast (the usual case).
_AFTER_FAILURE_S = 2.0
#: Seconds a failing key's later failing windows may always take to be counted, and
#: all failing keys' together (more when the search itself took longer).
_COUNT_FLOOR = 1.0
_COUNT_TOTAL = 5.0


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
    count: bool = True,
) -> CheckResult:
    """Check every key of a compact history into a ``CheckResult``.

    Keys take turns, smallest first, one slice of work each (see the module
    docstring); ``budget`` is the seconds of search each key may spend, ``memory_mb``
    how far the process's resident memory may grow while they run. ``count`` false:
    a failing key's later failing windows are not looked for, nor do the other keys
    get ``_AFTER_FAILURE_S`` (as Porcupine, which stops at the first failure; the
    benchmark compares like with like).
    """
    with gc_paused():
        return _check_keys(history, model, budget, memory_mb, count)


def _check_keys(
    history: CompactHistory, model: ValueModel, budget: float, memory_mb: float, count: bool
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
    failed_at = 0.0  # when the first key failed
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
                        failed_at = time.monotonic()
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
            settled = not count or time.monotonic() - failed_at >= _AFTER_FAILURE_S
            if allowance <= 0 and settled:
                for job in live:
                    job.stop()
                    verdicts.append(_unknown(job, "not searched further: another key failed"))
                live = []
    # Counting later failing windows, all failing keys together, may take this long.
    count_until = (
        time.monotonic() + max(_COUNT_TOTAL, 4 * (time.monotonic() - t0)) if count else 0.0
    )
    for job, outcome in failures:
        # The first failure found gets the larger floor to shrink its window.
        floor = _SHRINK_FLOOR if job is failures[0][0] else _SHRINK_FLOOR_OTHERS
        verdicts.append(_failure(job, outcome, history, model, budget, floor, count_until))
    verdicts.sort(key=lambda v: repr(v.key))
    return result(verdicts, history, model, time.monotonic() - t0)


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
    count_until: float,
) -> KeyVerdict:
    """The verdict of a failing key, with the windows that show the failure."""
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
    end = ops[blocked].ret
    own = time.monotonic() + min(budget, max(_COUNT_FLOOR, 4 * job.seconds))
    deadline = min(own, count_until)
    if end is not None and deadline > time.monotonic():
        # Then the rest of the key's history: how much of it fails, not only whether.
        verdict.later, verdict.counted = later_windows(ops, end, model, deadline)
    else:
        verdict.counted = False
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
        """Check ``run.history`` against ``run.config['model']``.

        A history in which no operation observed the state (no ok read, no ok
        compare-and-set: every read ended ``info`` or ``fail``, or nothing completed)
        is ``unknown``: it could not have shown a violation.
        """
        history = run.history
        if not any(r.get("type") == "invoke" for r in history):
            why = "no client operation in the history: nothing checked (no evidence)"
            return CheckResult(valid="unknown", metrics={"checked": False, "ops": 0}, error=why)
        name = run.config.get("model")
        if name not in MODEL_NAMES:
            why = "the workload names no model" if name is None else f"unknown model {name!r}"
            return CheckResult(
                valid="unknown", metrics={"checked": False}, error=f"{why}: nothing checked"
            )
        budget = float(run.config.get("linearizable_budget", self.budget))
        memory_mb = float(run.config.get("linearizable_memory_mb", self.memory_mb))
        model = get_model(name)
        try:
            compact = compact_records(history, model)
            if not observing_ops(compact):
                return _no_evidence(compact)
            checked = check_history(compact, model, budget=budget, memory_mb=memory_mb)
        except HistoryFormatError as exc:
            return CheckResult(valid="unknown", metrics={"checked": False}, error=str(exc))
        return tell_faults(checked, run)


def _no_evidence(compact: CompactHistory) -> CheckResult:
    """``unknown``: no operation observed the state, so none could show a violation."""
    return CheckResult(
        valid="unknown",
        metrics={"checked": False, "ops": compact.ops, "observing_ops": 0},
        error=(
            "no read or compare-and-set completed ok (all ended info or fail, or none "
            "ran): nothing observed the state, no evidence"
        ),
    )
