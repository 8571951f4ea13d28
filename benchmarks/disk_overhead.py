"""What the fault file system costs the reference Raft: ``python benchmarks/disk_overhead.py``.

Runs the ``register`` workload (chaoskit's own clients: reads, writes and
compare-and-set on a few keys) against a 5-node reference Raft cluster twice per round,
side by side: once on plain data directories, once with every node's data directory on
a fault file system (as in any run with a disk nemesis; no fault is applied). Each node
fsyncs its log before it answers, so every write pays the file system's fsync path.

Printed per variant: ok operations per second over the load window, and the latency of
ok operations (p50, p99, ms), the best and the median of ``--rounds`` rounds (the
variants alternate, so both see the same background load), and the ratio fault file
system / plain.

Needs FUSE (root, /dev/fuse, fusermount3), like the disk nemeses. About
``rounds x 2 x (seconds + 15)`` seconds.

    python benchmarks/disk_overhead.py --seconds 20 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from chaoskit.checkers.figures import percentile
from chaoskit.core.records import HISTORY
from chaoskit.run.cluster import ChaosCluster
from chaoskit.run.config import NemesisSpec, RunConfig

VARIANTS = {"plain": [], "faultfs": [NemesisSpec("power-loss")]}
ROWS = (("ok ops/s", "ops"), ("p50 latency, ms", "p50"), ("p99 latency, ms", "p99"))


def load(store: Path, variant: str, seconds: float, concurrency: int, seed: int) -> Path:
    """One cluster under the register workload for ``seconds``; its run directory.

    A disk nemesis in the run's plan mounts the fault file systems; ``ChaosCluster``
    never runs the schedule, so no fault happens.
    """
    config = RunConfig(
        target="raft",
        nemeses=list(VARIANTS[variant]),
        nodes=5,
        workload="register",
        concurrency=concurrency,
        seed=seed,
        store=store / variant,
        progress=False,
        time_limit=seconds,
    )
    cluster = ChaosCluster(config)
    try:
        cluster.wait_for_leader(30)
        time.sleep(seconds + 2)  # the window is measured from the first ok operation
    finally:
        cluster.check()
    return Path(cluster.run_dir)


def figures(run_dir: Path, seconds: float) -> dict[str, float]:
    """ok ops/s and p50/p99 latency (ms) of the ok operations completed within
    ``seconds`` of the first one (the final phase's reads come later and are left out)."""
    pending: dict[int, int] = {}
    done: list[tuple[int, float]] = []  # (completion time, latency ms)
    with (run_dir / HISTORY).open() as lines:
        for line in lines:
            rec = json.loads(line)
            if rec["type"] == "invoke":
                pending[rec["process"]] = rec["time"]
            elif rec["process"] in pending:
                began = pending.pop(rec["process"])
                if rec["type"] == "ok":
                    done.append((rec["time"], (rec["time"] - began) / 1e6))
    if not done:
        return {"ops": 0.0, "p50": 0.0, "p99": 0.0, "count": 0.0}
    end = min(t for t, _ in done) + seconds * 1e9
    latencies = [lat for t, lat in done if t <= end]
    return {
        "ops": len(latencies) / seconds,
        "p50": percentile(latencies, 0.50) or 0.0,
        "p99": percentile(latencies, 0.99) or 0.0,
        "count": float(len(latencies)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="load per cluster")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=10, help="client processes")
    ap.add_argument("--json", type=Path, default=None, help="write every round's figures")
    args = ap.parse_args(argv)
    store = Path(tempfile.mkdtemp(prefix="ck-disk-overhead-"))
    rounds: dict[str, list[dict[str, float]]] = {v: [] for v in VARIANTS}
    try:
        for r in range(args.rounds):
            for variant in VARIANTS:
                run_dir = load(store, variant, args.seconds, args.concurrency, seed=r + 1)
                rounds[variant].append(figures(run_dir, args.seconds))
                f = rounds[variant][-1]
                print(
                    f"round {r + 1} {variant:8} {f['ops']:8.1f} ops/s  p50 {f['p50']:7.2f} ms"
                    f"  p99 {f['p99']:7.2f} ms  ({f['count']:.0f} ok)",
                    flush=True,
                )
    finally:
        shutil.rmtree(store, ignore_errors=True)
    report(rounds, args)
    if args.json:
        args.json.write_text(json.dumps(rounds, indent=1) + "\n")
    return 0


def best(values: list[dict[str, float]]) -> dict[str, Any]:
    return {
        "ops": max(v["ops"] for v in values),
        "p50": min(v["p50"] for v in values),
        "p99": min(v["p99"] for v in values),
    }


def middle(values: list[dict[str, float]]) -> dict[str, Any]:
    return {key: statistics.median(v[key] for v in values) for key in ("ops", "p50", "p99")}


def report(rounds: dict[str, list[dict[str, float]]], args: argparse.Namespace) -> None:
    """Best and median round of each variant, side by side, with the ratio: on a busy
    machine the spread between rounds says how much of a difference is noise."""
    print(
        f"\nreference Raft, 5 nodes, register workload, {args.concurrency} clients, "
        f"{args.seconds:g} s per cluster, {args.rounds} rounds"
    )
    print(f"{'':30} {'plain':>10} {'faultfs':>10} {'faultfs/plain':>14}")
    for how, pick in (("best", best), ("median", middle)):
        plain, ours = pick(rounds["plain"]), pick(rounds["faultfs"])
        for label, key in (
            ("ok ops/s", "ops"),
            ("p50 latency, ms", "p50"),
            ("p99 latency, ms", "p99"),
        ):
            ratio = ours[key] / plain[key] if plain[key] else float("nan")
            name = f"{label} ({how})"
            print(f"{name:30} {plain[key]:10.2f} {ours[key]:10.2f} {ratio:14.2f}")


if __name__ == "__main__":
    sys.exit(main())
