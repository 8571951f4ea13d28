"""A compact client history for the linearizability checker: typed columns per key.

A history of 100,000 operations is 200,000 records; holding each as a dict, and
each paired operation as another object, costs more time and memory than the
search itself. Here a history is read once into, per key, five arrays of machine
integers (call time, return time, step id, and where its invoke and completion
records are) and one table of the distinct steps: no per-operation Python objects
outlive the reading. Records are looked up again only for the few operations an
anomaly shows.

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
import operator
import sys
from array import array
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from chaoskit.checkers._models import Outcome, Step, ValueModel, freeze
from chaoskit.core.records import Record
from chaoskit.errors import HistoryFormatError

#: The return time of an operation whose outcome is unknown: the end of time.
NO_RETURN: Final = sys.maxsize
_DONE: Final = frozenset({"ok", "fail", "info"})


@dataclass(slots=True)
class KeyOps:
    """The operations of one key as parallel columns, in completion order.

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
    #: How many records the history had (invocations and completions), searched or not.
    records: int = 0

    @property
    def ops(self) -> int:
        """How many operations the search has to order (dropped ones not counted)."""
        return sum(len(k) for k in self.keys.values())


# ---------------------------------------------------------------- building


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside: reading and searching make no cycles.

    They allocate millions of small containers (rows, cache entries), and each
    collection walks every live one: about a third of the checker's time at
    100,000 operations. Reference counting still frees everything at once. Callers
    drop their big temporaries inside the pause: the first collection after it
    walks whatever was allocated during it and is still alive.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


#: One record as the checker reads it: type, process, f, key, value, time.
Row = tuple[Any, Any, Any, Any, Any, Any]
_FIELDS: Final = ("type", "process", "f", "key", "value", "time")
_ROW: Final = operator.attrgetter(*_FIELDS)


def compact_records(
    records: Sequence[Record],
    model: ValueModel,
    *,
    cas_fail_is_miss: bool = False,
    where: Callable[[int], str] | None = None,
) -> CompactHistory:
    """Pair and encode records already in memory (dicts)."""
    with gc_paused():
        rows = (tuple(map(r.get, _FIELDS)) for r in records)
        where = where or _record_where
        return _build(rows, model, records.__getitem__, where, cas_fail_is_miss)  # type: ignore[arg-type]


def _record_where(i: int) -> str:
    return f"history record {i + 1}"


def build(
    rows: Iterable[Row],
    model: ValueModel,
    *,
    record: Callable[[int], Record],
    where: Callable[[int], str],
    cas_fail_is_miss: bool = False,
) -> CompactHistory:
    """Pair invocations with completions by process, encode each operation, group by key.

    One pass over the records: an invocation waits in a dict by process until its
    completion; then the operation is encoded, its step interned, and it is added to
    its key's columns, in completion order (operations never completed come last).
    Raises ``HistoryFormatError`` naming the record for a completion without an
    invocation, a process invoking twice, an unknown type, or an operation the model
    cannot read.
    """
    with gc_paused():
        return _build(rows, model, record, where, cas_fail_is_miss)


def _build(
    rows: Iterable[Row],
    model: ValueModel,
    record: Callable[[int], Record],
    where: Callable[[int], str],
    cas_fail_is_miss: bool,
) -> CompactHistory:
    # Invocations wait here with their rows: ``rows`` is read once, in order, and
    # may be an iterator (no list of every record is needed).
    pending: dict[Any, tuple[int, Row]] = {}
    ids: dict[Step, int] = {}
    cols: dict[Hashable, tuple[list[Any], list[Any], list[int], list[int], list[int]]] = {}
    encode = model.encode

    def add(inv: int, invoke: Row, done: int, kind: Outcome, value: Any, t: Any) -> None:
        """Encode one operation and put it in its key's columns."""
        _, _, f, key, arg, call = invoke
        try:
            step = encode(f, arg, value, kind, cas_fail_is_miss=cas_fail_is_miss)
        except (TypeError, ValueError) as exc:
            raise HistoryFormatError(f"{where(inv)}: {exc}") from exc
        if step is None:
            return  # it changed nothing and returned nothing: not searched
        sid = ids.get(step)
        if sid is None:
            sid = ids[step] = len(ids)
        if type(key) is not str:
            key = freeze(key)
        slot = cols.get(key)
        if slot is None:
            slot = cols[key] = ([], [], [], [], [])
        slot[0].append(call)
        slot[1].append(t if kind != "info" else NO_RETURN)
        slot[2].append(sid)
        slot[3].append(inv)
        slot[4].append(done)

    count = 0
    for i, row in enumerate(rows):
        count += 1
        kind, proc, f, key, value, t = row
        for name, given in (("process", proc), ("key", key)):
            if isinstance(given, list | dict):  # unhashable, and no history's shape
                raise HistoryFormatError(f"{where(i)}: {name} must be a number or a name")
        if kind == "invoke":
            if proc in pending:
                raise HistoryFormatError(f"{where(i)}: process {proc} invokes twice")
            pending[proc] = (i, row)
        elif kind in _DONE:
            waiting = pending.pop(proc, None)
            if waiting is None:
                raise HistoryFormatError(f"{where(i)}: {kind} of process {proc} without invoke")
            if f != waiting[1][2]:
                raise HistoryFormatError(f"{where(i)}: completion f differs from its invoke")
            add(waiting[0], waiting[1], i, kind, value, t)
        else:
            raise HistoryFormatError(f"{where(i)}: unknown type {kind!r}")
    for inv, invoke in sorted(pending.values(), key=lambda w: w[0]):
        add(inv, invoke, -1, "info", None, None)
    keys = {key: _key_ops(key, slot, where) for key, slot in cols.items()}
    return CompactHistory(keys, list(ids), record, where, records=count)


def _key_ops(
    key: Hashable,
    slot: tuple[list[Any], list[Any], list[int], list[int], list[int]],
    where: Callable[[int], str],
) -> KeyOps:
    """A key's columns as arrays of machine integers; times must be integers."""
    calls, rets, _, invs, dones = slot
    try:
        return KeyOps(key, *(array("q", c) for c in slot))
    except (TypeError, OverflowError):
        pass
    for column, positions in ((calls, invs), (rets, dones)):
        for n, t in enumerate(column):
            if type(t) is not int:
                try:
                    column[n] = int(t)  # 7.0 is fine
                except (TypeError, ValueError) as exc:
                    what = "missing field 'time'" if t is None else str(exc)
                    raise HistoryFormatError(f"{where(positions[n])}: {what}") from exc
    return KeyOps(key, *(array("q", c) for c in slot))


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
    lines = _Lines(name, data)
    # One pause for decoding and building: the rows die before collection resumes,
    # so the first collection after it does not walk 200,000 of them.
    with gc_paused():
        try:
            events = _DECODER.decode_lines(data)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return None  # the line-by-line reader says what is wrong, and where
        return _build(map(_ROW, events), model, lines.record, lines.where, cas_fail_is_miss)


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
