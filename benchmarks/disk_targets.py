"""Real systems under disk faults: ``python benchmarks/disk_targets.py --target etcd``.

Runs ``chaoskit run`` for each nemesis x seed against one target (etcd by default:
Debian's etcd-server, which fsyncs its write-ahead log before it acknowledges) and
prints, per nemesis, how many runs were valid and what the invalid ones found, the
acknowledged writes, and what the power losses dropped (files with unsynced data, their
bytes, metadata operations), summed over the runs. A kill of the same nodes is the
control: it never loses what the kernel holds.

    python benchmarks/disk_targets.py --target etcd --seeds 10 \\
        --nemeses power-loss-majority,power-loss-all,kill:count=majority
    python benchmarks/disk_targets.py --target nats --nodes 3 --workload set \\
        --nemeses power-loss-all,kill:count=all --time-limit 300 \\
        --extra '-o group=stream --fault-seconds 12 --heal-seconds 150'

Each run is one process in its own store (kept with ``--store``); a run that does not
end in time is killed and cleaned up by run id.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
GRACE_S = 180.0
WRITES = ("write", "put", "cas", "add")


@dataclass
class Run:
    """One run and what its records say."""

    nemesis: str
    seed: int
    exit: int | None = None
    valid: Any = None
    kinds: list[str] = field(default_factory=list)
    acked_writes: int = 0
    #: Acknowledged adds missing from the final read (the ``set`` workload only).
    lost_writes: int | None = None
    faults: int = 0
    dropped: dict[str, int] = field(default_factory=lambda: {"files": 0, "bytes": 0, "ops": 0})
    wall_s: float = 0.0
    error: str | None = None


def chaoskit() -> str:
    exe = ROOT / ".venv" / "bin" / "chaoskit"
    return str(exe) if exe.exists() else "chaoskit"


def run_one(args: argparse.Namespace, nemesis: str, seed: int, store: Path) -> Run:
    """One ``chaoskit run``; never raises."""
    run = Run(nemesis, seed)
    store.mkdir(parents=True, exist_ok=True)
    argv = [chaoskit(), "run", "--target", args.target, "--nemesis", nemesis, "--no-progress"]
    argv += ["--workload", args.workload, "--time-limit", f"{args.time_limit:g}"]
    argv += ["--seed", str(seed), "--store", str(store), "--nodes", str(args.nodes)]
    argv += args.extra.split()
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        output, _ = proc.communicate(timeout=args.time_limit + GRACE_S)
        run.exit = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        run.error = "timed out"
        for config in store.glob("*/*/config.json"):
            rid = json.loads(config.read_text()).get("run_id")
            subprocess.run([chaoskit(), "cleanup", "--run-id", str(rid)], check=False)
    run.wall_s = round(time.monotonic() - t0, 1)
    found = [p.parent for p in store.glob("*/*/results.json") if not p.parent.is_symlink()]
    if not found:
        run.error = run.error or (output.strip().splitlines() or ["no output"])[-1]
        return run
    run.error = None  # checked and stored: only its reports were still being written
    score(run, max(found))
    return run


def score(run: Run, run_dir: Path) -> None:
    results = json.loads((run_dir / "results.json").read_text())
    run.valid = results.get("valid")
    lost = results.get("checkers", {}).get("lost-writes", {}).get("metrics", {})
    run.lost_writes = lost.get("lost")
    run.kinds = sorted(
        {
            str(a.get("kind", name))
            for name, res in results.get("checkers", {}).items()
            for a in res.get("anomalies") or []
        }
    )
    for line in (run_dir / "history.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") == "ok" and rec.get("f") in WRITES:
            run.acked_writes += 1
    for line in (run_dir / "nemesis.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") != "start":
            continue
        run.faults += 1
        for lost in (rec.get("detail") or {}).get("dropped", {}).values():
            for key in run.dropped:
                run.dropped[key] += int(lost.get(key, 0))


def table(runs: Sequence[Run], args: argparse.Namespace) -> str:
    lines = [
        f"{args.target}, {args.nodes} nodes, {args.workload} workload, {args.time_limit:g} s runs",
        "",
        "| nemesis | runs | valid | invalid (anomalies) | faults | acknowledged writes "
        "| lost (set) | dropped at power loss: files / bytes / metadata ops |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for nemesis in dict.fromkeys(r.nemesis for r in runs):
        mine = [r for r in runs if r.nemesis == nemesis]
        done = [r for r in mine if r.error is None]
        valid = sum(1 for r in done if r.valid is True)
        bad = [r for r in done if r.valid is False]
        kinds = sorted({k for r in bad for k in r.kinds})
        drop = {k: sum(r.dropped[k] for r in done) for k in ("files", "bytes", "ops")}
        errors = len(mine) - len(done)
        lines.append(
            f"| `{nemesis}` | {len(done)}{f' (+{errors} failed)' if errors else ''} | {valid} | "
            f"{len(bad)}{' (' + ', '.join(kinds) + ')' if kinds else ''} | "
            f"{sum(r.faults for r in done)} | {sum(r.acked_writes for r in done)} | "
            f"{_lost(done)} | {drop['files']} / {drop['bytes']} / {drop['ops']} |"
        )
    return "\n".join(lines)


def _lost(runs: Sequence[Run]) -> str:
    known = [r.lost_writes for r in runs if r.lost_writes is not None]
    return str(sum(known)) if known else "-"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="etcd")
    ap.add_argument("--workload", default="register")
    ap.add_argument("--nemeses", default="power-loss-majority,power-loss-all,kill:count=majority")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--jobs", type=int, default=1, help="runs at once")
    ap.add_argument(
        "--extra",
        default="",
        help="more `chaoskit run` arguments, e.g. '-o group=stream --heal-seconds 150'",
    )
    ap.add_argument("--store", type=Path, default=None, help="keep the runs here")
    ap.add_argument("--json", type=Path, default=None, help="write every run's record")
    args = ap.parse_args(argv)
    nemeses = [n for n in args.nemeses.split(",") if n]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    cells = [(n, s) for n in nemeses for s in seeds]
    store = args.store or Path(tempfile.mkdtemp(prefix="chaoskit-disk-targets-"))
    print(f"{len(cells)} runs of {args.time_limit:g} s; store {store}", flush=True)

    def one(item: tuple[int, tuple[str, int]]) -> Run:
        i, (nemesis, seed) = item
        sub = store / f"{i:03d}-{nemesis.replace(':', '_').replace('=', '-')}-{seed}"
        run = run_one(args, nemesis, seed, sub)
        print(
            f"{nemesis} seed {seed}: exit {run.exit} valid {run.valid} {run.kinds} "
            f"acked {run.acked_writes} lost {run.lost_writes} faults {run.faults} "
            f"dropped {run.dropped} "
            f"({run.wall_s:.0f} s){' ' + run.error if run.error else ''}",
            flush=True,
        )
        return run

    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            runs = list(pool.map(one, enumerate(cells)))
    finally:
        if args.store is None:
            shutil.rmtree(store, ignore_errors=True)
    print()
    print(table(runs, args))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in runs], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
