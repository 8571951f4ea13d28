"""How soon a split brain is known: ``python benchmarks/live_checks.py``.

The reference Bully cluster splits its brain (takeovers, partitions). For each of
``--seeds`` seeds this carries out the same run twice, in this process:

- chaoskit: live checks with ``--fail-fast``: the first anomaly is reported as the
  records show it, and the run stops there;
- the peer: the check after the run, as Jepsen does it (and chaoskit did): the run
  goes to its time limit (``--time-limit``), then the final phase, teardown and
  checks; the verdict is known only then.

It prints, per seed and as medians: how long after the second leader's first answer
the live check reported the split brain (the goal: within 1 s), the wall time from the
start of the run to a known anomaly both ways and their ratio, and whether the final
check confirmed every live anomaly. Then the live checks' own cost: the stored
streams of the peer runs replayed through them, in microseconds per record, against
the offline check of the same records.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaoskit.checkers.checking import checkers_for, run_checkers
from chaoskit.checkers.live import replay
from chaoskit.run.config import NemesisSpec, RunConfig
from chaoskit.run.controller import Controller
from chaoskit.run.plan import plan_run
from chaoskit.store.rundir import load_run

GOAL_S = 1.0


def config(store: Path, seed: int, time_limit: float, fail_fast: bool) -> RunConfig:
    return RunConfig(
        target="bully",
        nemeses=[NemesisSpec.parse("partition")],
        time_limit=time_limit,
        seed=seed,
        store=store,
        progress=False,
        fail_fast=fail_fast,
        heal_s=2.0,
        fault_s=4.0,
    )


def live_run(store: Path, seed: int, time_limit: float) -> dict[str, Any]:
    """A --fail-fast run: when the first anomaly was reported, against its start."""
    reported: list[tuple[float, int]] = []
    started = time.perf_counter()
    controller = Controller(plan_run(config(store, seed, time_limit, True)))

    def on_anomaly(anomaly: dict[str, Any]) -> None:
        reported.append((time.perf_counter() - started, controller.clock.now()))

    controller.live.on_anomaly = on_anomaly
    result = asyncio.run(controller.execute())
    first = result.results["live"]["anomalies"][0] if reported else None
    return {
        "known_s": reported[0][0] if reported else None,
        "delay_s": (reported[0][1] - first["start"]) / 1e9 if first else None,
        "kind": first["kind"] if first else None,
        "confirmed": not result.results["live"]["unconfirmed"],
        "total_s": time.perf_counter() - started,
    }


def offline_run(store: Path, seed: int, time_limit: float) -> dict[str, Any]:
    """The same run checked after it ends: when the verdict is known."""
    started = time.perf_counter()
    result = asyncio.run(Controller(plan_run(config(store, seed, time_limit, False))).execute())
    return {"known_s": time.perf_counter() - started, "run_dir": result.run_dir}


def replay_cost(run_dirs: list[Path]) -> tuple[float, float]:
    """Microseconds per record: live checks fed record by record, and the offline check."""
    live_s = offline_s = 0.0
    records = 0
    for run_dir in run_dirs:
        run = load_run(run_dir)
        records += len(run.observations) + len(run.nemesis) + len(run.history)
        started = time.perf_counter()
        replay(run)
        live_s += time.perf_counter() - started
        names = {"split-brain", "stalled-election"}
        checkers = {k: v for k, v in checkers_for(run.config).items() if k in names}
        started = time.perf_counter()
        run_checkers(run, checkers)
        offline_s += time.perf_counter() - started
    return live_s / records * 1e6, offline_s / records * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=30.0)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    lives, peers = [], []
    with tempfile.TemporaryDirectory(prefix="ck-live-") as tmp:
        for seed in range(1, args.seeds + 1):
            live = live_run(Path(tmp) / "live", seed, args.time_limit)
            peer = offline_run(Path(tmp) / "peer", seed, args.time_limit)
            lives.append(live)
            peers.append(peer)
            delay = "none found" if live["delay_s"] is None else f"{live['delay_s'] * 1000:.0f} ms"
            print(
                f"seed {seed}: {live['kind']} reported {delay} after the second leader's "
                f"first answer; known after {live['known_s'] or 0:.2f} s live (run ended "
                f"{live['total_s']:.1f} s) vs {peer['known_s']:.1f} s after the run; "
                f"confirmed offline: {live['confirmed']}",
                flush=True,
            )
        found = [x for x in lives if x["delay_s"] is not None]
        if not found:
            print("no anomaly found live: nothing to compare")
            return 1
        delay = statistics.median(x["delay_s"] for x in found)
        known = statistics.median(x["known_s"] for x in found)
        total = statistics.median(x["total_s"] for x in found)
        after = statistics.median(p["known_s"] for p in peers)
        per_live, per_offline = replay_cost([p["run_dir"] for p in peers])
    print(f"\nmedians over {len(found)} of {args.seeds} seeds (time limit {args.time_limit:g} s):")
    print(f"{'':44}{'live':>10}{'after the run':>15}{'ratio':>8}")
    print(f"{'anomaly known after (s)':44}{known:>10.2f}{after:>15.2f}{known / after:>8.3f}")
    print(
        f"{'run finished, stored, checked after (s)':44}{total:>10.2f}{after:>15.2f}"
        f"{total / after:>8.3f}"
    )
    print(f"{'reported after the 2nd leader appeared (ms)':44}{delay * 1000:>10.0f}")
    print(
        f"{'check cost per record (us)':44}{per_live:>10.1f}{per_offline:>15.1f}"
        f"{per_live / per_offline:>8.2f}"
    )
    confirmed = all(x["confirmed"] for x in lives)
    print(f"every live anomaly confirmed by the final check: {confirmed}")
    verdict = "ok" if delay <= GOAL_S else "OVER GOAL"
    print(f"goal: reported within {GOAL_S:g} s of the second leader: {delay:.3f} s {verdict}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0 if confirmed else 1


if __name__ == "__main__":
    sys.exit(main())
