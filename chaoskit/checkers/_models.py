"""Sequential models for the linearizability checker: what one key may do alone.

A model turns one completed client operation into a compact, hashable *step*
(a tuple) once, and then applies steps to states in the checker's hot loop. States
must be hashable: the search memoises (linearized ops, state) pairs.

``step(state, op)`` returns the next state, or :data:`BAD` when the operation could
not have returned what it returned from ``state``. Operations whose outcome is
unknown (``info``) are encoded *relaxed*: they are legal from every state, and have
whatever effect they would have had, so the search may place them anywhere after
their invocation, or nowhere.

>>> m = get_model("register")
>>> s = m.step(m.init, m.encode("write", 3, 3, "ok"))
>>> m.step(s, m.encode("read", None, 3, "ok"))
3
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Final, Literal

Outcome = Literal["ok", "fail", "info"]
Step = tuple[Any, ...]

#: Returned by a step that is impossible from the given state.
BAD: Final = object()

# Step codes: small ints so the hot loop compares ints, not strings.
READ: Final = 0  # (READ, v): legal iff state == v
WRITE: Final = 1  # (WRITE, v): state := v
CAS: Final = 2  # (CAS, a, b): legal iff state == a; state := b
CAS_MISS: Final = 3  # (CAS_MISS, a): legal iff state != a; no change
CAS_MAYBE: Final = 4  # (CAS_MAYBE, a, b): if state == a then b else unchanged
APPEND: Final = 5  # (APPEND, s): state := state + s


_ATOMS: Final = frozenset({str, int, float, bool, type(None)})


def freeze(value: Any) -> Hashable:
    """A hashable twin of a JSON value: lists become tuples, dicts sorted item tuples."""
    if type(value) in _ATOMS:  # the common case, checked first: it is on a hot path
        h0: Hashable = value
        return h0
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    h: Hashable = value
    return h


@dataclass(frozen=True)
class ValueModel:
    """A single value per key: a register (read/write/cas) or a kv cell (get/put/append).

    ``init`` is what a key holds before any write: ``None`` for chaoskit's own
    workloads, ``""`` for Jepsen's string key-value histories.
    """

    name: str
    reads: frozenset[str]
    writes: frozenset[str]
    cas_fs: frozenset[str] = frozenset()
    append_fs: frozenset[str] = frozenset()
    init: Hashable = None

    @property
    def functions(self) -> frozenset[str]:
        """Every ``f`` this model understands."""
        return self.reads | self.writes | self.cas_fs | self.append_fs

    def encode(
        self, f: str, arg: Any, result: Any, outcome: Outcome, *, cas_fail_is_miss: bool = False
    ) -> Step | None:
        """The step for one operation, or None when it can be left out of the search.

        ``arg`` is the invocation's value, ``result`` the completion's. Reads that did
        not return and failed writes change nothing: left out. A failed cas is left
        out too, unless ``cas_fail_is_miss`` says that ``fail`` means "compared and
        found a different value" (Jepsen's etcd histories), which constrains the state.
        Raises ``ValueError`` for an ``f`` or value this model cannot read.
        """
        if f in self.reads:
            return (READ, freeze(result)) if outcome == "ok" else None
        if outcome == "fail" and not (cas_fail_is_miss and f in self.cas_fs):
            return None
        if f in self.writes:
            return (WRITE, freeze(arg))
        if f in self.cas_fs:
            frm, to = _pair(arg)
            if outcome == "fail":
                return (CAS_MISS, frm)
            return (CAS, frm, to) if outcome == "ok" else (CAS_MAYBE, frm, to)
        if f in self.append_fs:
            if not isinstance(arg, str):
                raise ValueError(f"{f} needs a string value, got {arg!r}")
            return (APPEND, arg)
        raise ValueError(f"the {self.name} model has no operation {f!r}")

    @staticmethod
    def step(state: Any, op: Step) -> Any:
        """Apply ``op`` to ``state``: the next state, or ``BAD`` if impossible."""
        code = op[0]
        if code == READ:
            return state if state == op[1] else BAD
        if code == WRITE:
            return op[1]
        if code == CAS:
            return op[2] if state == op[1] else BAD
        if code == CAS_MISS:
            return BAD if state == op[1] else state
        if code == CAS_MAYBE:
            return op[2] if state == op[1] else state
        return (state or "") + op[1]

    @staticmethod
    def is_pure(op: Step) -> bool:
        """Whether ``op`` never changes the state where it is legal (a read).

        The search takes a legal pure operation at once, without branching: taking
        it earlier than any order that works changes nothing for the others.
        """
        return bool(op[0] in (READ, CAS_MISS))

    @staticmethod
    def resets(op: Step) -> bool:
        """Whether ``op`` may replace the state rather than extend it (write, cas)."""
        return bool(op[0] in (WRITE, CAS, CAS_MAYBE))

    @staticmethod
    def written(op: Step) -> Any:
        """The state a write or compare-and-set leaves when it applies (BAD for others)."""
        code = op[0]
        if code == WRITE:
            return op[1]
        return op[2] if code in (CAS, CAS_MAYBE) else BAD

    @staticmethod
    def appends(op: Step) -> bool:
        """Whether ``op`` extends the state (an append)."""
        return bool(op[0] == APPEND)

    @staticmethod
    def read_value(op: Step) -> Any:
        """The value a read returned (BAD for anything but a read)."""
        return op[1] if op[0] == READ else BAD

    @staticmethod
    def describe(op: Step) -> str:
        """A short human text for a step, for anomaly messages."""
        code = op[0]
        names = {READ: "read", WRITE: "write", CAS: "cas", CAS_MISS: "failed cas"}
        names |= {CAS_MAYBE: "indeterminate cas", APPEND: "append"}
        args = " ".join(repr(a) for a in op[1:])
        return f"{names.get(code, '?')} {args}"


def _pair(arg: Any) -> tuple[Hashable, Hashable]:
    if isinstance(arg, list | tuple) and len(arg) == 2:
        return freeze(arg[0]), freeze(arg[1])
    raise ValueError(f"cas needs a value [from, to], got {arg!r}")


_MODELS: Final = {
    "register": ValueModel(
        "register",
        reads=frozenset({"read"}),
        writes=frozenset({"write"}),
        cas_fs=frozenset({"cas"}),
    ),
    "kv": ValueModel(
        "kv",
        reads=frozenset({"get"}),
        writes=frozenset({"put"}),
        cas_fs=frozenset({"cas"}),
        append_fs=frozenset({"append"}),
    ),
}

MODEL_NAMES: Final = tuple(sorted(_MODELS))


def get_model(name: str, *, init: Hashable = None) -> ValueModel:
    """The model called ``name`` (``register`` or ``kv``); ``KeyError`` if unknown."""
    base = _MODELS[name]
    if init is None:
        return base
    return ValueModel(base.name, base.reads, base.writes, base.cas_fs, base.append_fs, init)
