"""Does ``chaoskit shrink`` find small schedules that fail again? ``python benchmarks/shrink.py``.

For every planted Raft bug (the pairings of ``benchmarks/detection.py``):

1. a failing run with random faults: ``chaoskit run`` with the bug's pairing for
   ``--time-limit`` seconds, seeds 1, 2, ... until one finds the bug's own anomaly;
2. ``chaoskit shrink RUN --budget B --kind CHECKER:KIND`` (re-runs counted, the
   confirming ones included; wall time measured);
3. ``chaoskit run --scenario RUN/shrunk.toml`` ``--replays`` times: the reproduction
   rate of the shrunk schedule;
4. the correct Raft (the same file without ``bug=``) ``--correct`` times: it must stay
   valid (a shrunk schedule that "fails" the correct Raft would be a false alarm).

It prints per bug: fault events before and after, the shrunk faults, the reproduction
rate, the re-runs and wall time spent shrinking, and the correct Raft's verdicts;
``--markdown`` writes the table of docs/detection.md, ``--json`` every figure. Bugs run
``--jobs`` at a time (2 on the 2-core machine); each step is one ``chaoskit`` process.

    python benchmarks/shrink.py --bugs stale-read --budget 30 --replays 5 --correct 3
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
GRACE_S = 300.0


def detection() -> ModuleType:
    """The pairings of benchmarks/detection.py (a script, loaded by path)."""
    name = "chaoskit_detection_bench"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / "detection.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Row:
    """One bug's figures."""

    bug: str
    seed: int | None = None
    run_dir: str | None = None
    kind: str | None = None
    events_before: int | None = None
    events_after: int | None = None
    faults: str = ""
    shrink_exit: int | None = None
    reruns: int | None = None
    shrink_wall_s: float | None = None
    confirmed: str = ""
    replays: list[bool] = field(default_factory=list)
    correct: list[int | None] = field(default_factory=list)
    #: Correct Raft runs that showed the bug's own anomaly kind (a false alarm).
    correct_same_kind: int = 0
    correct_kinds: list[list[str]] = field(default_factory=list)
    error: str | None = None

    @property
    def rate(self) -> float | None:
        return sum(self.replays) / len(self.replays) if self.replays else None


def chaoskit(*args: str, timeout: float) -> tuple[int | None, str]:
    exe = ROOT / ".venv" / "bin" / "chaoskit"
    argv = [str(exe) if exe.exists() else "chaoskit", *args]
    try:
        proc = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        return None, f"timed out: {exc}"
    return proc.returncode, proc.stdout + proc.stderr


def latest_run(store: Path) -> Path | None:
    link = store / "latest"
    return link.resolve() if link.exists() else None


def kinds_found(run_dir: Path) -> set[str]:
    results = json.loads((run_dir / "results.json").read_text())
    return {
        f"{checker}:{a.get('kind', checker)}"
        for checker, res in results.get("checkers", {}).items()
        for a in res.get("anomalies") or []
    }


def failing_run(bug: str, args: argparse.Namespace, store: Path, row: Row) -> str | None:
    """A run of the bug's pairing that finds the bug's anomaly; its kind (``c:k``)."""
    pairing = detection().PAIRINGS[bug]
    for seed in range(1, args.seeds + 1):
        cell = detection().Cell(bug, bug, "leader", pairing.nemesis, pairing.workload, seed)
        argv = detection().chaoskit_argv(cell, args.time_limit, store)[1:]
        code, _ = chaoskit(*argv, "--no-progress", timeout=args.time_limit + GRACE_S)
        run_dir = latest_run(store)
        if code != 1 or run_dir is None:
            continue
        wanted = sorted(k for k in kinds_found(run_dir) if k.rpartition(":")[2] in pairing.kinds)
        if wanted:
            row.seed, row.run_dir = seed, str(run_dir)
            return wanted[0]
    row.error = f"no failing run in {args.seeds} seeds"
    return None


def replay_file(path: Path, store: Path, times: int) -> list[tuple[int | None, set[str]]]:
    """Run a scenario file ``times`` times; per run its exit status and anomaly kinds."""
    out = []
    for _ in range(times):
        code, _ = chaoskit(
            "run", "--scenario", str(path), "--store", str(store), "--no-progress",
            timeout=GRACE_S,
        )  # fmt: skip
        run_dir = latest_run(store)
        found = kinds_found(run_dir) if run_dir is not None else set()
        out.append((code, found))
    return out


def without_bug(shrunk: Path) -> Path:
    """The shrunk scenario for the correct Raft: the same file without ``bug=``."""
    sys.path.insert(0, str(ROOT))
    from chaoskit.scenario.files import load_scenario, write_scenario

    scenario = load_scenario(shrunk)
    run = dict(scenario.run)
    run["options"] = {k: v for k, v in dict(run.get("options", {})).items() if k != "bug"}
    if not run["options"]:
        del run["options"]
    path = shrunk.with_name("correct.toml")
    write_scenario(path, type(scenario)(steps=scenario.steps, run=run, name="correct Raft"))
    return path


def one_bug(bug: str, args: argparse.Namespace, base: Path) -> Row:
    """One bug end to end; an exception becomes the row's error, not a lost table."""
    row = Row(bug)
    try:
        return _one_bug(row, args, base / bug)
    except Exception as exc:  # noqa: BLE001 - reported in the table
        row.error = f"{type(exc).__name__}: {exc}"
        return row


def _resumed(row: Row, store: Path) -> str | None:
    """``--resume``: a failing run already shrunk in ``store``; its kind."""
    done = sorted(store.glob("failing/*/*/shrink.json"))
    if not done:
        return None
    summary = json.loads(done[-1].read_text())
    config = json.loads((done[-1].parent / "config.json").read_text())
    row.run_dir, row.seed, row.shrink_exit = str(done[-1].parent), config.get("seed"), 0
    # The shrink's wall time as it measured it (re-runs and confirming runs).
    row.shrink_wall_s = summary["wall_s"]
    return str(summary["kind"])


def _one_bug(row: Row, args: argparse.Namespace, store: Path) -> Row:
    store.mkdir(parents=True, exist_ok=True)
    kind = _resumed(row, store) if args.resume else None
    if kind is None:
        kind = failing_run(row.bug, args, store / "failing", row)
        if kind is None:
            return row
        started = time.monotonic()
        code, output = chaoskit(
            "shrink", str(row.run_dir), "--budget", str(args.budget), "--confirm",
            str(args.confirm), "--kind", kind, timeout=args.budget * 200.0,
        )  # fmt: skip
        row.shrink_exit = code
        row.shrink_wall_s = round(time.monotonic() - started, 1)
        if not (Path(str(row.run_dir)) / "shrink.json").exists():
            row.error = f"shrink wrote nothing: {output[-500:]}"
            return row
    row.kind = kind
    report = Path(str(row.run_dir)) / "shrink.json"
    summary = json.loads(report.read_text())
    row.events_before = summary["original"]["events"]
    row.events_after = summary["shrunk"]["events"]
    row.faults = summary["shrunk"]["faults"]
    row.reruns = summary["reruns_total"]
    row.confirmed = f"{summary['reproduced']}/{summary['confirm_runs']}"
    shrunk = Path(str(row.run_dir)) / "shrunk.toml"
    if not shrunk.exists():
        row.error = "no shrunk scenario"
        return row
    replays = replay_file(shrunk, store / "replay", args.replays)
    row.replays = [kind in found for _, found in replays]
    correct = replay_file(without_bug(shrunk), store / "correct", args.correct)
    row.correct = [code for code, _ in correct]
    row.correct_kinds = [sorted(found) for _, found in correct]
    row.correct_same_kind = sum(kind in found for _, found in correct)
    return row


def markdown(rows: Sequence[Row], args: argparse.Namespace) -> str:
    lines = [
        f"Failing runs of {args.time_limit:g} s with random faults; shrink budget "
        f"{args.budget} re-runs ({args.confirm} of them confirming); {args.replays} replays "
        f"of each shrunk scenario; the correct Raft {args.correct} times on each:",
        "",
        "| bug | anomaly | faults before -> after | shrunk schedule | reproduced | re-runs "
        "| shrink wall time | correct Raft |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        if r.error and r.events_after is None:
            lines.append(f"| `{r.bug}` | | | {r.error} | | | | |")
            continue
        rate = f"{sum(r.replays)}/{len(r.replays)}" if r.replays else "-"
        others = sorted({k for ks in r.correct_kinds for k in ks})
        correct = (
            f"{r.correct.count(0)}/{len(r.correct)} valid, the bug's anomaly "
            f"{r.correct_same_kind}/{len(r.correct)}"
            + (f" (other: {', '.join(others)})" if others else "")
            if r.correct
            else "-"
        )
        wall = f"{r.shrink_wall_s / 60:.1f} min" if r.shrink_wall_s else "-"
        lines.append(
            f"| `{r.bug}` | `{r.kind}` | {r.events_before} -> {r.events_after} | `{r.faults}` | "
            f"{rate} | {r.reruns} | {wall} | {correct} |"
        )
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bugs", default=",".join(detection().BUG_NAMES))
    ap.add_argument("--time-limit", type=float, default=60.0, help="the failing run's")
    ap.add_argument("--seeds", type=int, default=3, help="seeds tried for a failing run")
    ap.add_argument("--budget", type=int, default=50, help="shrink's re-runs in all")
    ap.add_argument("--confirm", type=int, default=5, help="of which confirming the result")
    ap.add_argument("--replays", type=int, default=10, help="runs of each shrunk scenario")
    ap.add_argument("--correct", type=int, default=3, help="correct Raft runs of each")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--store", type=Path, default=None, help="keep the runs here")
    ap.add_argument(
        "--resume",
        action="store_true",
        help="reuse a bug's failing run and shrink already in --store (replays only)",
    )
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--markdown", type=Path, default=None)
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    bugs = [b for b in args.bugs.split(",") if b]
    unknown = [b for b in bugs if b not in detection().PAIRINGS]
    if unknown:
        print(f"unknown bug(s): {', '.join(unknown)}")
        return 2
    base = args.store or Path(tempfile.mkdtemp(prefix="chaoskit-shrink-"))
    print(f"{len(bugs)} bugs, {args.jobs} at a time; store {base}", flush=True)

    def run(bug: str) -> Row:
        row = one_bug(bug, args, base)
        print(json.dumps(asdict(row)), flush=True)
        return row

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        rows = list(pool.map(run, bugs))
    text = markdown(rows, args)
    print(text)
    for r in rows:
        rate = "-" if r.rate is None else f"{r.rate:.0%}"
        print(
            f"{r.bug:14} events {r.events_before} -> {r.events_after}  reproduced {rate}  "
            f"re-runs {r.reruns}  wall {r.shrink_wall_s} s  correct exits {r.correct}"
        )
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
