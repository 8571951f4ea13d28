"""Benchmarks of the linearizable checker.

Run: ``PYTHONPATH=. python benchmarks/linearizability.py``

1. Porcupine's 108 reference histories (/work/shared/data/porcupine): time to check
   all of them on one core, each verdict compared with the expected one.
2. A generated healthy history of 100,000 ops over 50 keys (clients against atomic
   registers, overlapping ops, some time-outs): time and tracemalloc peak, for the
   whole history and for its busiest key alone. Times are taken without tracing;
   the tracemalloc peaks come from separate runs (tracing slows a check severalfold).

Options: ``--skip-porcupine``, ``--no-memory``, ``--ops N``, ``--keys K``, ``--budget S`` (per key).
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc
from pathlib import Path
from typing import Any

from chaoskit.checkers.history_formats import check_history_file
from chaoskit.checkers.linearizable import LinearizableChecker
from chaoskit.core.checker import RunData

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "porcupine"


def porcupine(budget: float) -> None:
    lines = (DATA / "verdicts.tsv").read_text().splitlines()
    slowest: list[tuple[float, str]] = []
    wrong = 0
    t0 = time.perf_counter()
    for line in lines:
        name, verdict = line.split("\t")
        t = time.perf_counter()
        model = "kv" if name.startswith("kv/") else "register"
        result = check_history_file(DATA / name, model, budget=budget)
        slowest.append((time.perf_counter() - t, name))
        wrong += result.valid is not (verdict == "linearizable")
    total = time.perf_counter() - t0
    print(f"porcupine: {len(lines)} histories in {total:.2f} s, {wrong} verdicts wrong")
    for seconds, name in sorted(slowest, reverse=True)[:5]:
        print(f"  {seconds:7.3f} s  {name}")
    jepsen = sum(s for s, n in slowest if n.startswith("jepsen/"))
    print(f"  the 102 jepsen/etcd histories alone: {jepsen:.2f} s")


def generate(n_ops: int, keys: int, clients: int, seed: int = 1) -> list[dict[str, Any]]:
    """A linearizable history: each op takes effect at a random point inside its span.

    Keys are drawn with a skew (Zipf-like), so one key is much busier than the rest.
    About 1% of writes/cas time out (info); half of those never took effect, and the
    client moves on under a new process number, as Jepsen does.
    """
    rng = random.Random(seed)
    weights = [1 / (k + 1) for k in range(keys)]
    names = [f"k{k}" for k in range(keys)]
    state: dict[str, Any] = {}
    events: list[tuple[float, dict[str, Any]]] = []
    # Each client runs ops back to back; ops of different clients overlap in time.
    pending: list[tuple[float, float, int, dict[str, Any]]] = []
    procs = list(range(clients))
    next_proc = clients
    clock = [0.0] * clients
    for _ in range(n_ops):
        c = rng.randrange(clients)
        key = rng.choices(names, weights)[0]
        f = rng.choice(("read", "read", "write", "cas"))
        arg: Any = None if f == "read" else rng.randrange(5)
        if f == "cas":
            arg = [rng.randrange(5), rng.randrange(5)]
        start = clock[c] + rng.random()
        lin = start + rng.random() * 3
        end = lin + rng.random() * 3
        clock[c] = end
        pending.append((lin, start, c, {"f": f, "key": key, "value": arg, "end": end}))
    pending.sort(key=lambda p: p[0])
    for _lin, start, c, op in pending:
        f, key, arg = op["f"], op["key"], op["value"]
        cur = state.get(key)
        timed_out = f != "read" and rng.random() < 0.01
        if timed_out and rng.random() < 0.5:
            typ, val = "info", arg  # never took effect
        elif f == "read":
            typ, val = "ok", cur
        elif f == "write":
            state[key], typ, val = arg, "ok", arg
        elif cur == arg[0]:
            state[key], typ, val = arg[1], "ok", arg
        else:
            typ, val = "fail", arg
        if timed_out:
            typ = "info"
        proc = procs[c]
        base = {"process": proc, "f": f, "key": key, "node": "n1"}
        events.append((start, {**base, "type": "invoke", "value": arg}))
        events.append((op["end"], {**base, "type": typ, "value": val}))
        if typ == "info":
            procs[c] = next_proc
            next_proc += 1
    events.sort(key=lambda e: e[0])
    history = []
    for i, (t, rec) in enumerate(events):
        rec["index"] = i
        rec["time"] = int(t * 1_000_000)
        history.append(rec)
    return history


def _timed(checker: LinearizableChecker, history: list[dict[str, Any]]) -> tuple[Any, float]:
    t = time.perf_counter()
    result = checker.check(RunData(history, [], [], {"model": "register"}))
    return result, time.perf_counter() - t


def _peak(checker: LinearizableChecker, history: list[dict[str, Any]]) -> float:
    """Peak traced memory of one check, in MiB: a run of its own, as tracing slows it."""
    tracemalloc.start()
    checker.check(RunData(history, [], [], {"model": "register"}))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def big(n_ops: int, keys: int, budget: float, memory: bool) -> None:
    history = generate(n_ops, keys, clients=20)
    checker = LinearizableChecker(budget=budget)
    result, seconds = _timed(checker, history)
    m = result.metrics
    print(f"generated: {m['ops']} ops over {m['keys']} keys, valid={result.valid}, {seconds:.2f} s")
    busiest = [r for r in history if r["key"] == m["busiest_key"]]
    one, seconds = _timed(checker, busiest)
    print(
        f"busiest key {m['busiest_key']}: {m['busiest_key_ops']} ops, valid={one.valid}, "
        f"{seconds:.2f} s"
    )
    if memory:
        print(
            f"tracemalloc peak (history itself not counted): whole {_peak(checker, history):.1f}"
            f" MiB, busiest key {_peak(checker, busiest):.1f} MiB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-porcupine", action="store_true")
    parser.add_argument("--ops", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=50)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    args = parser.parse_args()
    if not args.skip_porcupine:
        porcupine(args.budget)
    big(args.ops, args.keys, args.budget, not args.no_memory)


if __name__ == "__main__":
    main()
