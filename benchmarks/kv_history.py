"""Generate key-value histories for the linearizability benchmarks.

Run: ``python benchmarks/kv_history.py --ops 100000 -o /tmp/kv-100k.edn``

``C`` clients issue operations on ``K`` string keys, every operation completes
``ok``, and each takes effect at a random instant inside its span, so the history is
linearizable by construction. Two mixes: ``workload`` (the default) is chaoskit's kv
workload, half ``get`` and half ``put``; ``append`` is the mix of Porcupine's own kv
reference files (``kv/c50-ok.txt``: 45% ``get``, 50% ``append``, 5% ``put``), whose
search is much harder as histories grow (every order of concurrent appends is a
different state). ``--bad`` makes one read in
the middle of the history return the value its key held before the last write that
had *finished* before the read began (a stale read): no order explains it.

Two formats of the same history: Jepsen EDN maps (``--format edn``, the format both
Porcupine's test suite and ``chaoskit check-history`` read; the line order is the
time order) and chaoskit's ``history.jsonl`` (``--format jsonl``, with times in
nanoseconds; a key never written reads ``null`` there, ``""`` in EDN, as each
format's model expects).
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Format = Literal["edn", "jsonl"]
Mix = Literal["workload", "append"]
#: Chance of (get, append) for each mix; the rest are puts.
_MIXES: dict[str, tuple[float, float]] = {"workload": (0.5, 0.0), "append": (0.45, 0.5)}


@dataclass
class Op:
    """One generated operation: who, what, when it was called, took effect, returned."""

    process: int
    f: str
    key: str
    arg: str | None
    call: float
    effect: float
    ret: float
    result: str | None = None


def generate(
    ops: int, clients: int, keys: int, seed: int, *, mix: Mix = "workload", bad: bool = False
) -> list[Op]:
    """``ops`` operations of ``clients`` clients on ``keys`` keys, with their results.

    Each client runs its operations back to back; between its call and its return an
    operation takes effect once, and effects are applied in time order, so every
    result is the one a linearizable store gives.
    """
    rng = random.Random(seed)
    clock = [0.0] * clients
    count = [0] * clients
    gets, appends = _MIXES[mix]
    out: list[Op] = []
    for _ in range(ops):
        c = rng.randrange(clients)
        roll = rng.random()
        f = "get" if roll < gets else "append" if roll < gets + appends else "put"
        arg = None if f == "get" else f"x {c} {count[c]} y"
        count[c] += 1
        call = clock[c] + rng.random()
        effect = call + rng.random() * clients / 4
        ret = effect + rng.random() * clients / 4
        clock[c] = ret
        out.append(Op(c, f, str(rng.randrange(keys)), arg, call, effect, ret))
    state: dict[str, str] = {}
    for op in sorted(out, key=lambda o: o.effect):
        if op.f == "get":
            op.result = state.get(op.key)
        elif op.f == "put":
            state[op.key] = op.arg or ""
        else:
            state[op.key] = state.get(op.key, "") + (op.arg or "")
    if bad:
        _plant_stale_read(out)
    return out


def _plant_stale_read(ops: list[Op]) -> None:
    """Make the first read after the middle whose key changed before it return stale data.

    The stale value is what the key held before the last write that returned before
    the read was called: that write certainly precedes the read, and values never
    repeat (appends and puts carry unique text), so no order can explain it.
    """
    history: dict[str, list[tuple[float, float, str | None]]] = {}
    state: dict[str, str | None] = {}
    for op in sorted(ops, key=lambda o: o.effect):
        if op.f != "get":
            before = state.get(op.key)
            state[op.key] = op.arg if op.f == "put" else (before or "") + (op.arg or "")
            history.setdefault(op.key, []).append((op.effect, op.ret, before))
    for op in ops[len(ops) // 2 :]:
        writes = [w for w in history.get(op.key, []) if w[1] < op.call]
        if op.f == "get" and writes:
            stale = max(writes)[2]
            if stale != op.result:
                op.result = stale
                return
    raise ValueError("no read to make stale: the history is too short")


def lines(ops: list[Op], fmt: Format) -> list[str]:
    """The history as text lines: every call and return event in time order."""
    events = [(op.call, 0, i) for i, op in enumerate(ops)]
    events += [(op.ret, 1, i) for i, op in enumerate(ops)]
    events.sort()
    out = []
    for index, (t, kind, i) in enumerate(events):
        op = ops[i]
        typ = "invoke" if kind == 0 else "ok"
        value = op.arg if kind == 0 or op.f != "get" else op.result
        if fmt == "edn":
            shown = "nil" if value is None and kind == 0 else json.dumps(value or "")
            out.append(
                f'{{:process {op.process}, :type :{typ}, :f :{op.f}, :key "{op.key}", '
                f":value {shown}}}"
            )
        else:
            rec = {"index": index, "type": typ, "process": op.process, "f": op.f, "key": op.key}
            rec |= {"value": value, "time": int(t * 1_000_000)}
            out.append(json.dumps(rec, separators=(",", ":")))
    return out


def write(path: Path, ops: list[Op], fmt: Format) -> None:
    """Write the history to ``path`` in ``fmt``."""
    path.write_text("\n".join(lines(ops, fmt)) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--keys", type=int, default=64)
    parser.add_argument("--mix", choices=tuple(_MIXES), default="workload")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--bad", action="store_true", help="plant one stale read")
    parser.add_argument("--format", choices=("edn", "jsonl"), default="edn")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    ops = generate(args.ops, args.clients, args.keys, args.seed, mix=args.mix, bad=args.bad)
    write(args.output, ops, args.format)
    print(f"{args.output}: {args.ops} {args.mix} ops, {args.clients} clients, {args.keys} keys")


if __name__ == "__main__":
    main()
