"""The fixed cost of a run: ``python benchmarks/setup_teardown.py``.

Every ``chaoskit run`` costs more than its time limit: starting the command, leasing
ports, the embedded fault proxy and a proxy per link, spawning the nodes and waiting
until each answers, then the final phase, stopping everything, the checks and the
reports. This runs the default run (reference Raft, 5 nodes, ``partition``,
``register``) as a user does, as a process, ``--trials`` times with a short time
limit, and prints per trial and as medians:

- the fixed cost: wall time of the command minus its time limit, split into the
  command's own start (before the controller), set-up (to the main phase), teardown
  (main phase's end to the stored reports) and the command's exit; the goal is under
  3 s for set-up plus teardown;
- each step of ``timings.json`` (launch.ports, launch.proxy_start, ...), median.

Side by side, the peer: the least any tool pays for the same cluster, 5 reference Raft
processes spawned directly and polled until each answers ``/status``, then killed
and reaped (no proxy, no observer, no checks, no report), and the ratio.
``--compare DIR`` also runs the ``chaoskit run`` of another checkout (an older
commit, from ``git archive``), interleaved, and prints its fixed cost alongside.

Figures are wall-clock on the machine that runs it: the load average is printed with
them, since on two shared cores it moves them more than anything chaoskit does.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaoskit.targets._node._procs import LocalCluster

REPO = Path(__file__).resolve().parents[1]
GOAL_S = 3.0


def command_wall(store: Path, time_limit: float, seed: int, repo: Path = REPO) -> float:
    """Run ``chaoskit run`` of the checkout ``repo`` as a process: its wall time."""
    argv = [sys.executable, "-m", "chaoskit", "run", "--time-limit", f"{time_limit:g}"]
    argv += ["--seed", str(seed), "--no-progress", "--store", str(store)]
    env = dict(os.environ, PYTHONPATH=str(repo))
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"chaoskit run failed ({proc.returncode}): {proc.stderr[-400:]}")
    return wall


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def chaoskit_trial(store: Path, time_limit: float, seed: int) -> dict[str, Any]:
    """One ``chaoskit run`` as a process: its wall time and its timings.json."""
    cpu = children_cpu()
    wall = command_wall(store, time_limit, seed)
    cpu = children_cpu() - cpu
    timings = json.loads(((store / "latest").resolve() / "timings.json").read_text())
    marks = timings["marks"]
    before = -marks.get("process_start", 0.0)
    return {
        "wall": wall,
        "fixed": wall - time_limit,
        "command_start": before,
        "setup": timings["setup_s"],
        "teardown": timings["teardown_s"],
        "exit": wall - before - marks["done"],
        "cpu": cpu,
        "fixed_cpu": sum(timings["cpu"].values()),
        "steps": timings["steps"],
        "step_cpu": timings["cpu"],
    }


def bare_trial(base: Path) -> float:
    """Spawn 5 Raft nodes, wait until each answers, kill and reap them: seconds."""
    started = time.perf_counter()
    with LocalCluster("chaoskit.targets.raft", 5, base) as cluster:
        cluster.start_all()
        cluster.wait_for(
            lambda: True if all(cluster.status(n) is not None for n in cluster.ids) else None,
            timeout=60,
            every=0.005,
        )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--time-limit", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--compare", type=Path, help="another chaoskit checkout to time too")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} (2 cores here: {os.cpu_count()})")
    trials, bare, other = [], [], []
    with tempfile.TemporaryDirectory(prefix="ck-setup-") as tmp:
        for i in range(args.trials):
            t = chaoskit_trial(Path(tmp) / "runs", args.time_limit, args.seed + i)
            b = bare_trial(Path(tmp) / f"bare{i}")
            if args.compare:
                cpu = children_cpu()
                wall = command_wall(Path(tmp) / "old", args.time_limit, args.seed + i, args.compare)
                other.append((wall - args.time_limit, children_cpu() - cpu))
                print(
                    f"trial {i + 1}: {args.compare}: fixed {other[-1][0]:.2f} s, "
                    f"CPU {other[-1][1]:.2f} s",
                    flush=True,
                )
            trials.append(t)
            bare.append(b)
            print(
                f"trial {i + 1}: fixed {t['fixed']:.2f} s = command start "
                f"{t['command_start']:.2f} + set-up {t['setup']:.2f} + teardown "
                f"{t['teardown']:.2f} + exit {t['exit']:.2f} (+ main phase); "
                f"bare cluster {b:.2f} s",
                flush=True,
            )
    med = {k: statistics.median(t[k] for t in trials) for k in trials[0] if "step" not in k}
    steps = {
        name: statistics.median(t["steps"].get(name, 0.0) for t in trials)
        for name in trials[0]["steps"]
    }
    step_cpu = {
        name: statistics.median(t["step_cpu"].get(name, 0.0) for t in trials)
        for name in trials[0]["step_cpu"]
    }
    core = med["setup"] + med["teardown"]
    bare_med = statistics.median(bare)
    print(f"\nmedians over {args.trials} runs (time limit {args.time_limit:g} s):")
    print(f"{'':34}{'chaoskit':>10}{'bare cluster':>14}{'ratio':>8}")
    print(
        f"{'fixed cost of a run (s)':34}{med['fixed']:>10.2f}{bare_med:>14.2f}"
        f"{med['fixed'] / bare_med:>8.1f}"
    )
    print(f"{'set-up + teardown (s)':34}{core:>10.2f}{bare_med:>14.2f}{core / bare_med:>8.1f}")
    for key in ("command_start", "setup", "teardown", "exit"):
        print(f"  {key:32}{med[key]:>10.2f}")
    print(f"  {'CPU of the command and its nodes':32}{med['cpu']:>10.2f}")
    print(f"  {'controller CPU in the steps':32}{med['fixed_cpu']:>10.2f}")
    print(f"steps (median s){'wall':>26}{'controller CPU':>16}")
    for name, value in steps.items():
        if value >= 0.005:
            print(f"  {name:32}{value:>10.3f}{step_cpu.get(name, 0.0):>16.3f}")
    if other:
        old = statistics.median(o[0] for o in other)
        old_cpu = statistics.median(o[1] for o in other)
        name = str(args.compare)
        print(f"{name}: fixed cost {old:.2f} s, CPU of its command and nodes {old_cpu:.2f} s")
        print(
            f"this checkout / that one: fixed cost {med['fixed'] / old:.2f}, "
            f"CPU {med['cpu'] / old_cpu:.2f}"
        )
    verdict = "ok" if core < GOAL_S else "OVER GOAL"
    print(f"goal: set-up + teardown under {GOAL_S:g} s: {core:.2f} s {verdict}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
