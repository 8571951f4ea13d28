"""Does chaoskit catch every planted Raft bug? ``python benchmarks/detection.py``.

Runs the matrix bug x seed, each bug with its documented pairing (nemesis, workload,
the checker that must name the anomaly), and the correct Raft under the same pairings,
then prints per bug the detection rate and the median time from run start to the
first anomaly of the expected kind (in run time: the controller's clock, cluster
start-up included), and the false alarms of the correct target.

``--variant random`` swaps every leader-aware nemesis for its random counterpart
(``isolate-leader`` -> ``isolate``, ``kill-leader`` -> ``kill:count=one``, ...), so the
gain of aiming faults at the leader is a measured figure; pairings that use no
leader-aware nemesis are the same in both variants and are not run twice.

Each cell is one ``chaoskit run`` process (``--jobs`` at a time, default 2), with its
own store directory; the figures come from its ``results.json``. Runs that do not end
in time are killed and cleaned up by run id. A run takes about 40 s of wall time (30 s
of faults, start-up, final phase, checks), so the defaults (5 bug seeds, 20 correct
seeds per distinct pairing, leader variant: 150 runs, 2 at a time) take about 50
minutes. ``--report`` prints the tables of earlier ``--json`` files without running;
``--markdown FILE`` writes the tables (the "What chaoskit finds" section of the docs),
``--json FILE`` every run's record.

    python benchmarks/detection.py --seeds 5 --correct-seeds 20 --variant both
    python benchmarks/detection.py --bugs stale-read,lease-read --seeds 3 --correct-seeds 0
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NS_PER_S = 1_000_000_000
#: Grace beyond the time limit for start-up, the final phase and the checkers.
RUN_GRACE_S = 150.0
HISTORY = "history.jsonl"


@dataclass(frozen=True)
class Pairing:
    """How to find one planted bug: the faults, the load and the anomaly to expect."""

    bug: str
    nemesis: str
    workload: str
    checker: str
    #: Anomaly kinds (``results.json``) that are the bug's signature.
    kinds: tuple[str, ...]
    #: The same faults aimed at random nodes instead of the leader (None: not leader-aware).
    random_nemesis: str | None
    why: str
    #: Extra ``chaoskit run`` arguments (target options, client count).
    extra: tuple[str, ...] = ()

    def nemesis_for(self, variant: str, override: str | None = None) -> str:
        if override is not None:
            return override
        if variant == "random" and self.random_nemesis is not None:
            return self.random_nemesis
        return self.nemesis


PAIRINGS: dict[str, Pairing] = {
    p.bug: p
    for p in (
        Pairing(
            "double-vote",
            "partition-majorities-ring",
            "none",
            "split-brain",
            ("split-brain", "election-safety"),
            None,
            "every node sees a different majority, so elections never stop and two "
            "candidates often ask the same voter in one term",
            ("-o", "election-ticks=6", "-o", "heartbeat-ticks=2"),
        ),
        Pairing(
            "forget-vote",
            "kill",
            "none",
            "split-brain",
            ("term-regression", "split-brain", "election-safety"),
            None,
            "a node restarted after SIGKILL comes back with term 0: it forgot the term "
            "it voted in, so it can vote twice in one term",
        ),
        Pairing(
            "no-step-down",
            "isolate-leader",
            "none",
            "split-brain",
            ("stale-leader",),
            "isolate",
            "the cut-off leader never yields to the newer term after the heal: the "
            "stale-leader deadline fires",
        ),
        Pairing(
            "stale-read",
            "isolate-leader",
            "register",
            "linearizable",
            ("non-linearizable",),
            "isolate",
            "the cut-off leader keeps answering reads from its own state while the "
            "majority elects a new leader and writes; a client bound to each node "
            "keeps reading from the cut-off one",
            ("--bound-clients", "5"),
        ),
        Pairing(
            "early-ack",
            "isolate-leader",
            "set",
            "lost-writes",
            ("lost-write",),
            "isolate",
            "the cut-off leader acknowledges adds that no other node ever gets; after "
            "the heal the new leader's log replaces them, and the final read lacks them",
        ),
        Pairing(
            "lease-read",
            "clock-skew-leader:offset_s=-10;rate=1&isolate-leader",
            "register",
            "linearizable",
            ("non-linearizable",),
            "clock-bump:count=one&isolate",
            "the leader's clock jumps back while it is cut off, so its lease looks valid "
            "after the majority has elected and written; bound clients read from it",
            ("--bound-clients", "10"),
        ),
        Pairing(
            "ack-before-fsync",
            "power-loss-all",
            "set",
            "lost-writes",
            ("lost-write",),
            None,
            "every node loses power at one instant, and with it the adds of the last "
            "second that it acknowledged but had not synced yet (a kill never shows it: "
            "the kernel keeps what was written). Under power-loss-majority the surviving "
            "minority holds them and, with its higher term, usually wins the election "
            "after the restart: see docs/disk-faults.md",
        ),
    )
}
BUG_NAMES: tuple[str, ...] = tuple(PAIRINGS)


@dataclass
class Cell:
    """One run of the matrix: what was run, and what ``results.json`` said."""

    bug: str | None
    pairing: str
    variant: str
    nemesis: str
    workload: str
    seed: int
    exit: int | None = None
    kinds: list[str] = field(default_factory=list)
    #: Run time (s) of the first anomaly of the bug's kind (or of any kind for bug=None).
    first_s: float | None = None
    detected: bool = False
    wall_s: float = 0.0
    run_dir: str | None = None
    message: str | None = None
    error: str | None = None
    #: The end of the terminal output (the summary names the anomalies).
    output: str = ""
    #: For lost writes (proven only at the final read): when the first lost add was acked.
    acked_s: float | None = None

    @property
    def correct(self) -> bool:
        return self.bug is None


def chaoskit_argv(cell: Cell, time_limit: float, store: Path) -> list[str]:
    """The ``chaoskit run`` command of one cell."""
    exe = ROOT / ".venv" / "bin" / "chaoskit"
    argv = [str(exe) if exe.exists() else "chaoskit", "run", "--target", "raft"]
    argv += ["--nemesis", cell.nemesis, "--workload", cell.workload]
    argv += ["--time-limit", f"{time_limit:g}", "--seed", str(cell.seed), "--store", str(store)]
    if cell.bug is not None:
        argv += ["-o", f"bug={cell.bug}"]
    return argv + list(PAIRINGS[cell.pairing].extra)


def anomalies(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every anomaly of every checker, each tagged with its checker's name."""
    out: list[dict[str, Any]] = []
    for name, res in results.get("checkers", {}).items():
        for anomaly in res.get("anomalies", []) or []:
            out.append({**anomaly, "checker": name})
    return out


def score(cell: Cell, results: dict[str, Any], kinds: Sequence[str]) -> Cell:
    """Fill in what the run found: its kinds, the first matching anomaly, detected or not.

    A bug counts as detected only if the run failed (exit 1) *and* an anomaly of the
    bug's own kind is among the findings: another anomaly would be a lucky alarm.
    """
    found = anomalies(results)
    cell.kinds = sorted({str(a.get("kind", a["checker"])) for a in found})
    wanted = [a for a in found if not kinds or a.get("kind") in kinds]
    starts = [a for a in wanted if isinstance(a.get("start"), int | float)]
    if starts:
        first = min(starts, key=lambda a: a["start"])
        cell.first_s = round(first["start"] / NS_PER_S, 3)
        cell.message = str(first.get("message", ""))[:300]
    cell.detected = cell.exit == 1 and bool(wanted)
    return cell


def find_run_dir(store: Path) -> Path | None:
    """The one run directory a fresh store holds (``<store>/<target>-<nemesis>/<time>``)."""
    dirs = [p.parent for p in store.glob("*/*/results.json") if not p.parent.is_symlink()]
    return max(dirs, default=None)


def run_cell(cell: Cell, time_limit: float, store: Path) -> Cell:
    """Run one cell in its own store; never raises (errors go into ``cell.error``)."""
    store.mkdir(parents=True, exist_ok=True)
    argv = chaoskit_argv(cell, time_limit, store)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}
    t0 = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=time_limit + RUN_GRACE_S)
        cell.exit = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:  # a checker busy in pure Python ignores SIGTERM
            os.killpg(proc.pid, signal.SIGKILL)
            output, _ = proc.communicate()
        cell.error = "timed out"
        cleanup_run(store)
    cell.wall_s = round(time.monotonic() - t0, 1)
    cell.output = "\n".join(output.splitlines()[-30:])
    run_dir = find_run_dir(store)
    if run_dir is None:
        tail = output.strip().splitlines()[-1:]
        cell.error = cell.error or f"no results: {tail[0] if tail else output!r}"
        return cell
    cell.run_dir = str(run_dir)
    results = json.loads((run_dir / "results.json").read_text())
    pairing = PAIRINGS.get(cell.bug or "")
    cell = score(cell, results, pairing.kinds if pairing else ())
    cell.acked_s = first_lost_ack(results, run_dir / HISTORY)
    return cell


def first_lost_ack(results: dict[str, Any], history: Path) -> float | None:
    """Run time (s) at which the earliest add later reported lost was acknowledged."""
    lost = {
        json.dumps(element)
        for a in anomalies(results)
        if a.get("kind") == "lost-write"
        # One anomaly per stretch of lost adds (``elements``; ``element``: older runs).
        for element in a.get("elements", [a["element"]] if "element" in a else [])
    }
    if not lost or not history.exists():
        return None
    with history.open() as lines:
        for line in lines:
            rec = json.loads(line)
            ok_add = rec.get("type") == "ok" and rec.get("f") == "add"
            if ok_add and json.dumps(rec.get("value")) in lost:
                return round(rec["time"] / NS_PER_S, 3)
    return None


def cleanup_run(store: Path) -> None:
    """``chaoskit cleanup --run-id`` for the run in ``store`` (never every run)."""
    for config in store.glob("*/*/config.json"):
        run_id = json.loads(config.read_text()).get("run_id")
        if run_id:
            exe = ROOT / ".venv" / "bin" / "chaoskit"
            subprocess.run([str(exe), "cleanup", "--run-id", str(run_id)], cwd=ROOT, check=False)


def plan(
    bugs: Sequence[str],
    seeds: Iterable[int],
    correct_seeds: Iterable[int],
    variants: Sequence[str],
    nemesis: str | None = None,
) -> list[Cell]:
    """Every cell to run: bug cells, then the correct target under each distinct pairing
    (``nemesis`` replaces every pairing's own)."""
    cells: list[Cell] = []
    seeds, correct_seeds = list(seeds), list(correct_seeds)
    for variant in variants:
        for bug in bugs:
            p = PAIRINGS[bug]
            if variant == "random" and p.random_nemesis is None:
                continue
            cells += [
                Cell(bug, bug, variant, p.nemesis_for(variant, nemesis), p.workload, s)
                for s in seeds
            ]
        seen: set[tuple[str, ...]] = set()
        for bug in bugs:
            p = PAIRINGS[bug]
            if variant == "random" and p.random_nemesis is None:
                continue
            key = (p.nemesis_for(variant, nemesis), p.workload, *p.extra)
            if key in seen:
                continue
            seen.add(key)
            cells += [Cell(None, bug, variant, key[0], key[1], s) for s in correct_seeds]
    return cells


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def bug_rows(cells: Sequence[Cell], variant: str) -> list[dict[str, Any]]:
    """Per bug and nemesis: runs, detections, rate, median time to the first anomaly of
    the bug's kind."""
    rows = []
    for bug, p in PAIRINGS.items():
        by_nemesis: dict[str, list[Cell]] = {}
        for c in cells:
            if c.bug == bug and c.variant == variant and c.workload == p.workload:
                by_nemesis.setdefault(c.nemesis, []).append(c)
        rows += [_bug_row(bug, p, mine) for mine in by_nemesis.values()]
    return rows


def _bug_row(bug: str, p: Pairing, mine: list[Cell]) -> dict[str, Any]:
    """One row of the bug table: the runs of ``bug`` under one nemesis."""
    hits = [c for c in mine if c.detected]
    times = [c.first_s for c in hits if c.first_s is not None]
    return {
        "bug": bug,
        "nemesis": mine[0].nemesis,
        "workload": p.workload,
        "checker": p.checker,
        "kinds": "/".join(p.kinds),
        "runs": len(mine),
        "detected": len(hits),
        "rate": round(len(hits) / len(mine), 2),
        "median_first_s": median(times),
        "median_acked_s": median([c.acked_s for c in hits if c.acked_s is not None]),
        "max_first_s": max(times, default=None),
        "missed_seeds": [c.seed for c in mine if not c.detected],
    }


def correct_rows(cells: Sequence[Cell], variant: str) -> list[dict[str, Any]]:
    """Per distinct pairing: runs of the correct Raft and how many were not clean."""
    groups: dict[tuple[str, str], list[Cell]] = {}
    for c in cells:
        if c.correct and c.variant == variant:
            groups.setdefault((c.nemesis, c.workload), []).append(c)
    return [
        {
            "nemesis": nemesis,
            "workload": workload,
            "runs": len(group),
            "false_alarms": sum(1 for c in group if c.exit == 1),
            "not_run": sum(1 for c in group if c.exit not in (0, 1)),
            "alarm_kinds": sorted({k for c in group if c.exit == 1 for k in c.kinds}),
            "alarm_seeds": [c.seed for c in group if c.exit == 1],
        }
        for (nemesis, workload), group in groups.items()
    ]


def markdown(cells: Sequence[Cell], time_limit: float) -> str:
    """The tables of the docs, from the cells."""
    lines: list[str] = []
    for variant in ("leader", "random"):
        rows = bug_rows(cells, variant)
        if not rows:
            continue
        lines += [
            f"Planted bugs, {variant}-aimed faults ({time_limit:g} s runs):",
            "",
            "| bug | nemesis | workload | checker: anomaly | detected | median time to "
            "first anomaly |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for r in rows:
            t = "-" if r["median_first_s"] is None else f"{r['median_first_s']:.1f} s"
            if r["median_acked_s"] is not None:
                t += f" (lost add acked at {r['median_acked_s']:.1f} s)"
            lines.append(
                f"| `{r['bug']}` | `{r['nemesis']}` | `{r['workload']}` | "
                f"`{r['checker']}`: {r['kinds']} | {r['detected']}/{r['runs']} | {t} |"
            )
        lines.append("")
        rows_c = correct_rows(cells, variant)
        if rows_c:
            lines += [
                f"Correct Raft, same pairings ({variant}-aimed):",
                "",
                "| nemesis | workload | runs | false alarms |",
                "| --- | --- | --- | --- |",
            ]
            for r in rows_c:
                extra = f" ({', '.join(r['alarm_kinds'])})" if r["false_alarms"] else ""
                lines.append(
                    f"| `{r['nemesis']}` | `{r['workload']}` | {r['runs']} | "
                    f"{r['false_alarms']}{extra} |"
                )
            lines.append("")
    return "\n".join(lines)


def print_tables(cells: Sequence[Cell], time_limit: float) -> None:
    for variant in ("leader", "random"):
        rows = bug_rows(cells, variant)
        if rows:
            print(f"\n== planted bugs, {variant}-aimed faults, {time_limit:g} s runs ==")
            print(f"{'bug':14} {'nemesis':28} {'det':>6} {'rate':>5} {'median s':>9} missed")
            for r in rows:
                t = "-" if r["median_first_s"] is None else f"{r['median_first_s']:.1f}"
                if r["median_acked_s"] is not None:
                    t += f" (acked {r['median_acked_s']:.1f})"
                print(
                    f"{r['bug']:14} {r['nemesis']:28} {r['detected']:>3}/{r['runs']:<2} "
                    f"{r['rate']:>5.0%} {t:>9} {r['missed_seeds'] or ''}"
                )
        rows_c = correct_rows(cells, variant)
        if rows_c:
            print(f"-- correct Raft ({variant}) --")
            for r in rows_c:
                print(
                    f"{r['nemesis']:28} {r['workload']:9} runs {r['runs']:>3} false alarms "
                    f"{r['false_alarms']} {r['alarm_kinds'] or ''} {r['alarm_seeds'] or ''}"
                    + (f" not run {r['not_run']}" if r["not_run"] else "")
                )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bugs", default=",".join(BUG_NAMES), help="comma-separated bug names")
    ap.add_argument("--seeds", type=int, default=5, help="seeds per bug (1..N)")
    ap.add_argument("--first-seed", type=int, default=1)
    ap.add_argument("--correct-seeds", type=int, default=20, help="seeds per correct pairing")
    ap.add_argument("--time-limit", type=float, default=30.0)
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (2 cores: keep 2)")
    ap.add_argument("--variant", choices=("leader", "random", "both"), default="leader")
    ap.add_argument(
        "--nemesis",
        default=None,
        help="run every bug (and the correct Raft) under this nemesis instead of its pairing's",
    )
    ap.add_argument("--store", type=Path, default=None, help="keep the runs here")
    ap.add_argument("--json", type=Path, default=None, help="write every cell's record")
    ap.add_argument("--markdown", type=Path, default=None, help="write the tables")
    ap.add_argument(
        "--report",
        type=Path,
        nargs="+",
        default=None,
        help="run nothing: print (and --markdown) the tables of earlier --json files; a "
        "later file replaces an earlier one's cells of the same pairing",
    )
    return ap.parse_args(argv)


def load_cells(paths: Sequence[Path]) -> list[Cell]:
    """Cells of earlier ``--json`` files; later files win for the same pairing and variant."""
    merged: dict[tuple[str, str, str], list[Cell]] = {}
    for path in paths:
        fresh: dict[tuple[str, str, str], list[Cell]] = {}
        for record in json.loads(path.read_text()):
            cell = Cell(**record)
            done = Path(cell.run_dir or "") / "results.json"
            if cell.acked_s is None and cell.run_dir and done.exists():
                cell.acked_s = first_lost_ack(json.loads(done.read_text()), done.parent / HISTORY)
            key = (cell.variant, cell.bug or "", cell.nemesis + "|" + cell.workload)
            fresh.setdefault(key, []).append(cell)
        merged.update(fresh)
    return [c for cells in merged.values() for c in cells]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report:
        cells = load_cells(args.report)
        time_limit = args.time_limit
        print_tables(cells, time_limit)
        if args.markdown:
            args.markdown.write_text(markdown(cells, time_limit))
        return 0
    bugs = [b for b in args.bugs.split(",") if b]
    unknown = [b for b in bugs if b not in PAIRINGS]
    if unknown:
        print(f"unknown bug(s): {', '.join(unknown)} (known: {', '.join(BUG_NAMES)})")
        return 2
    variants = ["leader", "random"] if args.variant == "both" else [args.variant]
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    correct = range(args.first_seed, args.first_seed + args.correct_seeds)
    cells = plan(bugs, seeds, correct, variants, args.nemesis)
    store = args.store or Path(tempfile.mkdtemp(prefix="chaoskit-detection-"))
    print(f"{len(cells)} runs of {args.time_limit:g} s, {args.jobs} at a time; store {store}")
    done: list[Cell] = []

    def one(i_cell: tuple[int, Cell]) -> Cell:
        i, cell = i_cell
        sub = store / f"{i:04d}-{cell.variant}-{cell.bug or 'correct'}-{cell.seed}"
        result = run_cell(cell, args.time_limit, sub)
        what = "DETECTED" if result.detected else f"exit {result.exit}"
        first = "" if result.first_s is None else f" first {result.first_s:.1f} s"
        print(
            f"[{len(done) + 1}/{len(cells)}] {cell.variant} {cell.bug or 'correct'} "
            f"{cell.nemesis} seed {cell.seed}: {what}{first} {result.kinds} "
            f"({result.wall_s:.0f} s){' ' + result.error if result.error else ''}",
            flush=True,
        )
        done.append(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(one, enumerate(cells)))
    finally:
        if args.store is None:
            shutil.rmtree(store, ignore_errors=True)
    print_tables(results, args.time_limit)
    if args.json:
        args.json.write_text(json.dumps([asdict(c) for c in results], indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(markdown(results, args.time_limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
