"""Endurance of the controller: ``python benchmarks/endurance.py [--minutes 30]``.

One long ``chaoskit run`` (a process, as a user runs it) on the reference Raft
cluster with every nemesis combined. While it runs, the controller's resident memory
is sampled from ``/proc/<pid>/status`` every few seconds. At the end it prints:

- RSS of the controller: after start-up (first sample once the nodes answer), at the
  end of the main phase (last sample), the peak, the median of each quarter of the run,
  and the growth per hour from a least-squares fit over the whole run and over its
  second half (flat means: no leak; warm-up growth shows in the first quarter only);
  every sample is kept in ``rss.csv`` of the run directory;
- history: invocations, completions, the number of invocations without a completion
  (must be 0: ``info`` counts as a completion), and whether indexes are contiguous;
- observer: the sampling interval reached (p50, p99, max) in the first and the last
  tenth of the run (keeping its interval means: the two are alike);
- faults: starts, stops (must be equal), and the verdict of every checker.

Not part of CI (30 minutes by default); ``--minutes 2`` is a smoke run. Nodes use
``-o tick-ms=20`` unless ``--tick-ms`` says otherwise, so a loaded machine does not turn
the liveness figures into a measure of CPU starvation.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ALL_NEMESES = (
    "partition,partition-bridge,partition-majorities-ring,partition-oneway,isolate,"
    "isolate-leader,kill,kill-leader,pause,pause-leader,latency,clock-bump,clock-rate,"
    "clock-strobe,clock-skew-leader"
)
SAMPLE_S = 5.0


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def records(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines(keepends=True):
        if line.endswith("\n") and line.strip():
            out.append(json.loads(line))
    return out


def slope_per_hour(samples: list[tuple[float, int]]) -> float:
    """Least-squares growth of RSS, in KiB per hour."""
    if len(samples) < 2:
        return 0.0
    ts = [t for t, _ in samples]
    rs = [r for _, r in samples]
    mt, mr = statistics.fmean(ts), statistics.fmean(rs)
    var = sum((t - mt) ** 2 for t in ts)
    if var == 0:
        return 0.0
    return sum((t - mt) * (r - mr) for t, r in samples) / var * 3600


def quarter_medians_mib(samples: list[tuple[float, int]]) -> list[float]:
    """Median RSS (MiB) of each quarter of the samples, in order."""
    n = len(samples)
    quarters = [samples[i * n // 4 : (i + 1) * n // 4] for i in range(4)]
    return [round(statistics.median(r for _, r in q) / 1024, 1) for q in quarters if q]


def intervals_ms(obs: list[dict[str, Any]], lo: float, hi: float) -> dict[str, float]:
    """Per-node gaps between consecutive samples whose time falls in [lo, hi) ns."""
    last: dict[str, int] = {}
    gaps: list[float] = []
    for o in obs:
        t = o["time"]
        if lo <= t < hi and o["node"] in last:
            gaps.append((t - last[o["node"]]) / 1e6)
        last[o["node"]] = t
    if not gaps:
        return {"p50": 0.0, "p99": 0.0, "max": 0.0}
    gaps.sort()
    return {
        "p50": round(gaps[len(gaps) // 2], 1),
        "p99": round(gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))], 1),
        "max": round(gaps[-1], 1),
    }


def history_figures(history: list[dict[str, Any]]) -> dict[str, Any]:
    kinds = Counter("invoke" if r["type"] == "invoke" else "done" for r in history)
    open_per_process: Counter[int] = Counter()
    for r in history:
        open_per_process[r["process"]] += 1 if r["type"] == "invoke" else -1
    return {
        "invocations": kinds["invoke"],
        "completions": kinds["done"],
        "missing_completions": sum(v for v in open_per_process.values() if v > 0),
        "indexes_contiguous": [r["index"] for r in history] == list(range(len(history))),
        "info": sum(1 for r in history if r["type"] == "info"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tick-ms", type=int, default=20)
    parser.add_argument("--nemesis", default=ALL_NEMESES)
    parser.add_argument("--store", type=Path, default=None, help="default: a temporary dir")
    args = parser.parse_args()

    store = args.store or Path(tempfile.mkdtemp(prefix="chaoskit-endurance-"))
    cmd = [
        sys.executable,
        "-m",
        "chaoskit",
        "run",
        "--nodes",
        str(args.nodes),
        "--nemesis",
        args.nemesis,
        "--time-limit",
        str(args.minutes * 60),
        "--seed",
        str(args.seed),
        "--no-progress",
        "--store",
        str(store),
        "-o",
        f"tick-ms={args.tick_ms}",
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    print("running:", " ".join(cmd[1:]), flush=True)
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    samples: list[tuple[float, int]] = []
    latest = store / "latest"
    while proc.poll() is None:
        time.sleep(SAMPLE_S)
        # Only the main phase: from the first fault-schedule file to the final phase.
        if not (latest / "schedule.json").exists():
            continue
        rss = rss_kib(proc.pid)
        if rss is not None and time.monotonic() - started < args.minutes * 60 + 5:
            samples.append((time.monotonic() - started, rss))
    output = proc.stdout.read() if proc.stdout else ""
    run_dir = latest.resolve()
    print(f"exit status {proc.returncode}; run in {run_dir}")
    if not samples or not (run_dir / "results.json").exists():
        print(output[-3000:])
        return 2

    results = json.loads((run_dir / "results.json").read_text())
    history = records(run_dir / "history.jsonl")
    obs = records(run_dir / "observations.jsonl")
    nem = records(run_dir / "nemesis.jsonl")
    end_ns = max(o["time"] for o in obs)
    tenth = end_ns / 10
    first = samples[0][1]
    last = samples[-1][1]
    (run_dir / "rss.csv").write_text(
        "seconds,rss_kib\n" + "".join(f"{t:.1f},{r}\n" for t, r in samples)
    )
    print(
        f"controller RSS: start {first / 1024:.1f} MiB, end {last / 1024:.1f} MiB, "
        f"peak {max(r for _, r in samples) / 1024:.1f} MiB, "
        f"trend {slope_per_hour(samples) / 1024:+.1f} MiB/h over {len(samples)} samples, "
        f"second half {slope_per_hour(samples[len(samples) // 2 :]) / 1024:+.1f} MiB/h"
    )
    print("controller RSS by quarter (median MiB):", quarter_medians_mib(samples))
    print("history:", json.dumps(history_figures(history)))
    print(
        "observer interval ms, first tenth:",
        intervals_ms(obs, 0, tenth),
        "last tenth:",
        intervals_ms(obs, end_ns - tenth, end_ns + 1),
    )
    starts = sum(1 for r in nem if r["type"] == "start")
    stops = sum(1 for r in nem if r["type"] == "stop")
    kinds = sorted({r["nemesis"] for r in nem})
    print(f"faults: {starts} started, {stops} stopped, {len(kinds)} kinds: {', '.join(kinds)}")
    print(
        "verdicts:",
        {k: v["valid"] for k, v in results["checkers"].items()},
        "overall:",
        results["valid"],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
