"""How evenly a sharded night's shards finish: the split against naive ones.

    PYTHONPATH=. .venv/bin/python benchmarks/nightly_split.py [--shards 4 16 64] [--seed 1]

The matrix is the one of issue 27: 7 targets x 16 nemeses x 3 workloads x 5 seeds =
1,680 runs of 60 s. Running 1,680 real runs is a day of machine time, so the run
times are a model, stated here: a run's true time is the planner's estimate
(``balance.estimate_seconds``: time limit + launch + the target's election deadline)
times a per-cell bias (log-normal, sigma 0.35: a target or nemesis that is slower than
its estimate stays slower, night after night) times a per-night noise (log-normal,
sigma 0.10). Night 1 is split on estimates; night 2 on night 1's measured times, as
``chaoskit nightly --shard`` does when the store holds the previous night.

For each shard count it prints the longest shard's true time against the ideal
(total / N): 1.00 is shards finishing together; the night lasts as long as its
longest shard. Against two splits that ignore run times: round-robin over the matrix
order, and contiguous slices of it. Also the time to compute a split.
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

from chaoskit.nightly.balance import estimate_seconds, plan_night, split
from chaoskit.nightly.identity import matrix_digest
from chaoskit.nightly.matrix import Matrix, RunItem

TARGETS = ["raft", "bully", "paxos", "etcd", "etcd-election", "zookeeper", "zk-election"]
NEMESES = [
    "partition",
    "partition-oneway",
    "partition-majorities-ring",
    "partition-bridge",
    "isolate",
    "isolate-leader",
    "kill",
    "kill-leader",
    "pause",
    "pause-leader",
    "latency",
    "clock-bump",
    "clock-strobe",
    "clock-rate",
    "clock-skew-leader",
    "none",
]
MATRIX = Matrix(
    targets=TARGETS,
    nemeses=NEMESES,
    workloads=["none", "register", "set"],
    seeds=[1, 2, 3, 4, 5],
    time_limit=60.0,
    settings={"nodes": 5},
)


def true_times(items: list[RunItem], rng: random.Random) -> tuple[list[float], Any]:
    """Night 1's true times, and a function drawing another night's."""
    estimates = {t: estimate_seconds(MATRIX, RunItem(t, "kill", "none", 1)) for t in TARGETS}
    bias = {item.key: rng.lognormvariate(0, 0.35) for item in items}

    def night() -> list[float]:
        return [estimates[i.target] * bias[i.key] * rng.lognormvariate(0, 0.10) for i in items]

    return night(), night


def longest(shards: list[list[int]], times: list[float]) -> float:
    return max(sum(times[i] for i in shard) for shard in shards)


def summary_of(items: list[RunItem], times: list[float]) -> dict[str, Any]:
    """A night's summary.json as far as the planner reads it (durations)."""
    cells: dict[str, dict[str, Any]] = {}
    for item, seconds in zip(items, times, strict=True):
        cells.setdefault(item.key, {"key": item.key, "runs": []})["runs"].append(
            {"seed": item.seed, "duration_s": seconds}
        )
    return {"matrix_digest": matrix_digest(MATRIX), "night": "1", "cells": list(cells.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", type=int, nargs="+", default=[4, 16, 64])
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    items = MATRIX.items()
    night1, draw = true_times(items, random.Random(args.seed))
    night2 = draw()
    history = [("night-1", summary_of(items, night1))]
    total_h = sum(night2) / 3600
    print(f"{len(items)} runs, night 2 totals {total_h:.1f} h of run time on one machine")
    header = f"{'shards':>6} {'ideal':>8} {'round-robin':>12} {'contiguous':>11}"
    print(header + f" {'estimates':>10} {'measured':>9} {'plan ms':>8}")
    for count in args.shards:
        ideal = sum(night2) / count
        robin = [list(range(k, len(items), count)) for k in range(count)]
        size = -(-len(items) // count)
        chunks = [list(range(k * size, min(len(items), (k + 1) * size))) for k in range(count)]
        estimated = plan_night(MATRIX, count, []).shards
        started = time.perf_counter()
        measured = plan_night(MATRIX, count, history).shards
        plan_ms = (time.perf_counter() - started) * 1000
        ratios = [longest(s, night2) / ideal for s in (robin, chunks, estimated, measured)]
        print(
            f"{count:>6} {ideal / 60:>6.0f} m"
            + "".join(f" {r:>{w}.3f}" for r, w in zip(ratios, (12, 11, 10, 9), strict=True))
            + f" {plan_ms:>8.1f}"
        )
    # The split itself, on its own: 1,680 weights into 64 shards.
    started = time.perf_counter()
    split([round(t * 1000) for t in night1], 64)
    took_ms = (time.perf_counter() - started) * 1000
    print(f"split of {len(items)} runs into 64 shards: {took_ms:.1f} ms")


if __name__ == "__main__":
    main()
