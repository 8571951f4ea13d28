"""A compact client history for the linearizability checker: typed columns per key.

A history of 100,000 operations is 200,000 records; holding each as a dict, and
each paired operation as another object, costs more time and memory than the
search itself. Here a history is read once into, per key, four arrays of machine
integers (call time, return time, step id, record positions) and one table of the
distinct steps: no per-operation Python objects outlive the reading. Records are
looked up again only for the few operations an anomaly shows.

chaoskit's own ``history.jsonl`` is decoded by msgspec straight into small typed
structs holding only the fields the checker reads (unknown fields skipped in C);
records already in memory (a run being checked) are read as they are.

>>> from chaoskit.checkers._models import get_model
>>> h = compact_records([
...     {"type": "invoke", "process": 1, "f": "write", "key": "k", "value": 3, "time": 0},
...     {"type": "ok", "process": 1, "f": "write", "key": "k", "value": 3, "time": 5},
... ], get_model("register"))
>>> h.ops, list(h.keys["k"].call), list(h.keys["k"].ret), h.steps
(1, [0], [5], [(1, 3)])
"""

from __future__ import annotations

import gc
import json
import sys
from array import array
from collections.abc import Callable, Hashable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from chaoskit._errors import HistoryFormatError
from chaoskit._records import Record
from chaoskit.checkers._models import Outcome, Step, ValueModel, freeze

#: The return time of an operation whose outcome is unknown: the end of time.
NO_RETURN: Final = sys.maxsize
_DONE: Final = frozenset({"ok", "fail", "info"})


@dataclass(slots=True)
class KeyOps:
    """The operations of one key as parallel columns, in invocation order.

    ``ret`` is ``NO_RETURN`` for an operation with an unknown outcome (``info``, or
    never completed): it may take effect at any time after its call, or never.
    ``inv`` and ``done`` are positions of the invoke and completion records in the
    source (``done`` is -1 when there is none), for messages and anomaly reports.
    """

    key: Hashable
    call: array[int] = field(default_factory=lambda: array("q"))
    ret: array[int] = field(default_factory=lambda: array("q"))
    step: array[int] = field(default_factory=lambda: array("q"))
    inv: array[int] = field(default_factory=lambda: array("q"))
    done: array[int] = field(default_factory=lambda: array("q"))

    def __len__(self) -> int:
        return len(self.call)


@dataclass
class CompactHistory:
    """Every key's operations, the distinct steps they use, and a way back to records."""

    keys: dict[Hashable, KeyOps]
    #: Step id -> step (the model's hashable encoding of one operation).
    steps: list[Step]
    #: The record at a source position (for anomaly reports).
    record: Callable[[int], Record]
    #: Where a source position is, for error messages ("history.jsonl line 7").
    where: Callable[[int], str]

    @property
    def ops(self) -> int:
        """How many operations the search has to order (dropped ones not counted)."""
        return sum(len(k) for k in self.keys.values())


# ---------------------------------------------------------------- building


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: reading and searching make no cycles.

    They allocate millions of small containers (columns, cache entries), and each
    full collection walks every live one: about a third of the checker's time at
    100,000 operations. Reference counting still frees everything at once.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compact_records(
    records: Sequence[Record],
    model: ValueModel,
    *,
    cas_fail_is_miss: bool = False,
    where: Callable[[int], str] | None = None,
) -> CompactHistory:
    """Pair and encode records already in memory (dicts), one column at a time."""

    def column(name: str) -> list[Any]:
        return [r.get(name) for r in records]

    return build(
        [column(n) for n in ("type", "process", "f", "key", "value", "time")],
        model,
        record=records.__getitem__,
        where=where or _record_where,
        cas_fail_is_miss=cas_fail_is_miss,
    )


def _record_where(i: int) -> str:
    return f"history record {i + 1}"


def build(
    columns: list[list[Any]],
    model: ValueModel,
    *,
    record: Callable[[int], Record],
    where: Callable[[int], str],
    cas_fail_is_miss: bool = False,
) -> CompactHistory:
    """Pair invocations with completions by process, encode each operation, group by key.

    ``columns`` are the records' ``type``, ``process``, ``f``, ``key``, ``value`` and
    ``time``, one list each (None where a record lacks the field). Raises
    ``HistoryFormatError`` naming the record for a completion without an invocation,
    a process invoking twice, an unknown type or an operation the model cannot read.
    """
    with gc_paused():
        return _build(columns, model, record, where, cas_fail_is_miss)


def _build(
    columns: list[list[Any]],
    model: ValueModel,
    record: Callable[[int], Record],
    where: Callable[[int], str],
    cas_fail_is_miss: bool,
) -> CompactHistory:
    types, procs, fs, keys, values, times = columns
    invs, dones = _pair(types, procs, fs, where)
    # Column by column (comprehensions run several times faster than one loop
    # doing everything); a bad operation is looked for again, one by one, only
    # when a column cannot be made.
    outcomes: list[Outcome] = [types[d] if d >= 0 else "info" for d in dones]
    results = [values[d] if d >= 0 else None for d in dones]
    encode = model.encode
    try:
        encoded = [
            encode(fs[i], values[i], r, o, cas_fail_is_miss=cas_fail_is_miss)
            for i, r, o in zip(invs, results, outcomes, strict=True)
        ]
    except (TypeError, ValueError):
        _find_bad(invs, dones, columns, model, cas_fail_is_miss, where)
        raise
    # Operations that change nothing and return nothing are not searched.
    keep = [j for j, step in enumerate(encoded) if step is not None]
    ids: dict[Step, int] = {}
    sids = [ids.setdefault(encoded[j], len(ids)) for j in keep]  # type: ignore[arg-type]
    calls = [times[invs[j]] for j in keep]
    rets = [times[dones[j]] if outcomes[j] != "info" else NO_RETURN for j in keep]
    groups: dict[Hashable, list[int]] = {}
    for n, j in enumerate(keep):
        key = keys[invs[j]]
        if type(key) is not str:
            key = freeze(key)
        group = groups.get(key)
        if group is None:
            group = groups[key] = []
        group.append(n)
    inv_kept = [invs[j] for j in keep]
    done_kept = [dones[j] for j in keep]
    try:
        per_key = _columns(groups, calls, rets, sids, inv_kept, done_kept)
    except (TypeError, OverflowError):  # a time that is not an integer
        _find_bad(invs, dones, columns, model, cas_fail_is_miss, where)  # raises if bad
        calls, rets = [int(t) for t in calls], [int(t) for t in rets]  # e.g. 7.0
        per_key = _columns(groups, calls, rets, sids, inv_kept, done_kept)
    return CompactHistory(per_key, list(ids), record, where)


def _columns(groups: dict[Hashable, list[int]], *columns: list[int]) -> dict[Hashable, KeyOps]:
    """Each key's operations as arrays, picked out of whole-history columns."""
    out = {}
    for key, group in groups.items():
        arrays = [array("q", map(column.__getitem__, group)) for column in columns]
        out[key] = KeyOps(key, *arrays)
    return out


def _find_bad(
    invs: list[int],
    dones: list[int],
    columns: list[list[Any]],
    model: ValueModel,
    cas_fail_is_miss: bool,
    where: Callable[[int], str],
) -> None:
    """Raise ``HistoryFormatError`` naming the first operation that cannot be read."""
    types, _, fs, _, values, times = columns
    for inv, done in zip(invs, dones, strict=True):
        outcome: Outcome = types[done] if done >= 0 else "info"
        result = values[done] if done >= 0 else None
        try:
            step = model.encode(
                fs[inv], values[inv], result, outcome, cas_fail_is_miss=cas_fail_is_miss
            )
            if step is not None:
                int(times[inv])
                if outcome != "info":
                    int(times[done])
        except (TypeError, ValueError) as exc:
            raise HistoryFormatError(f"{where(inv)}: {_reason(exc, times, inv, done)}") from exc


def _pair(
    types: list[Any], procs: list[Any], fs: list[Any], where: Callable[[int], str]
) -> tuple[list[int], list[int]]:
    """Positions of each operation's invoke and completion (-1: none), by invoke order."""
    pending: dict[Any, int] = {}
    done_of: dict[int, int] = {}
    invs: list[int] = []
    for i, kind in enumerate(types):
        if kind == "invoke":
            proc = procs[i]
            if proc in pending:
                raise HistoryFormatError(f"{where(i)}: process {proc} invokes twice")
            pending[proc] = i
            invs.append(i)
        elif kind in _DONE:
            inv = pending.pop(procs[i], -1)
            if inv < 0:
                raise HistoryFormatError(f"{where(i)}: {kind} of process {procs[i]} without invoke")
            if fs[i] != fs[inv]:
                raise HistoryFormatError(f"{where(i)}: completion f differs from its invoke")
            done_of[inv] = i
        else:
            raise HistoryFormatError(f"{where(i)}: unknown type {kind!r}")
    return invs, [done_of.get(i, -1) for i in invs]


def _reason(exc: Exception, times: list[Any], inv: int, done: int) -> str:
    if times[inv] is None or (done >= 0 and times[done] is None):
        return "missing field 'time'"
    return str(exc)


# ---------------------------------------------------------------- chaoskit JSONL


class _Event(msgspec.Struct, gc=False):
    """The fields of a history record that the checker reads; the rest are skipped."""

    type: Any = None
    process: Any = None
    f: Any = None
    key: Any = None
    value: Any = None
    time: Any = None


_DECODER: Final = msgspec.json.Decoder(_Event)


def compact_jsonl(
    data: bytes, name: str, model: ValueModel, *, cas_fail_is_miss: bool = False
) -> CompactHistory | None:
    """Decode a chaoskit ``history.jsonl`` (its bytes; ``name`` for messages) into columns.

    Returns None when the fast decoder refuses the file (a record that is not an
    object, a torn or malformed line): the caller then reads it line by line, which
    says exactly which line is wrong and forgives a torn last one.
    """
    try:
        with gc_paused():
            events = _DECODER.decode_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    lines = _Lines(name, data)
    columns = [
        [e.type for e in events],
        [e.process for e in events],
        [e.f for e in events],
        [e.key for e in events],
        [e.value for e in events],
        [e.time for e in events],
    ]
    del events  # the columns hold what the search needs; the structs can go now
    return build(
        columns, model, record=lines.record, where=lines.where, cas_fail_is_miss=cas_fail_is_miss
    )


class _Lines:
    """Records of a JSONL buffer by position, found again only when a report needs them."""

    def __init__(self, name: str, data: bytes) -> None:
        self._name = name
        self._data = data
        self._index: list[tuple[int, bytes]] | None = None

    def _line(self, pos: int) -> tuple[int, bytes]:
        """The line number (from 1) and text of a position: positions skip blank lines."""
        if self._index is None:
            lines = enumerate(self._data.splitlines(), start=1)
            self._index = [(n, line) for n, line in lines if line.strip()]
        return self._index[pos]

    def record(self, pos: int) -> Record:
        rec: Record = json.loads(self._line(pos)[1])
        return rec

    def where(self, pos: int) -> str:
        return f"{self._name} line {self._line(pos)[0]}"
