"""The linearizability checker side by side with Porcupine (or any peer checker).

Run: ``python benchmarks/porcupine_compare.py --porcupine-cmd "/path/to/driver"``
(without ``--porcupine-cmd`` only chaoskit's column is measured).

The peer is a command the user provides (docs/performance.md says how to make one
for Porcupine): run as ``CMD MODEL FILE`` (MODEL ``kv`` or ``register``), it checks the
history in FILE and prints ``verdict=linearizable|not-linearizable|unknown``, and may
print ``parse_s=S`` and ``check_s=S`` (seconds spent reading the file and in its
checking loop). Nothing of the peer is built or shipped here.

Cases, each checked by both in separate processes, the two interleaved (their order
alternating) for ``--rounds`` rounds on the same machine:

- ``kv 1k/10k/100k``: histories from ``kv_history.py`` (chaoskit's kv workload: 50
  clients, 64 keys, half gets and half puts; linearizable), and ``kv 100k bad`` (one
  stale read planted). The peer reads the EDN form (the form Porcupine's own test
  suite parses); chaoskit reads its own ``history.jsonl`` form of the same history,
  and in ``kv 100k (EDN both)`` the same EDN file.
- ``c50-bad`` and ``c50-ok``: Porcupine's kv reference histories with 50 clients, the
  first its hardest (not linearizable); ``etcd_002``: its slowest register history.
  Both read the same file.
- ``108 reference``: every reference history once; one chaoskit process reads and
  checks them all, the peer runs once per file; compared on in-process time (read +
  check), as process start-up would otherwise dominate.

Per case: medians of whole-process wall time, CPU time (user + system, all threads),
peak resident memory, and the in-process time (read + check); ratio = chaoskit / peer.
Every verdict is compared with the known one. A process over ``--memory-mb`` resident
memory or ``--timeout`` seconds is killed and reported so. The machine may be shared:
say so with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE = HERE.parent.parent / "shared" / "data" / "porcupine"
SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}


@dataclass
class Run:
    """One checker process: its verdicts and what it cost."""

    wall: float
    cpu: float
    rss_mb: float
    inner: float | None  # in-process read + check seconds, when reported
    verdicts: list[str]
    killed: str | None = None


@dataclass
class Case:
    """One comparison: what each side checks, and the verdicts expected."""

    name: str
    model: str
    ours: list[Path]
    theirs: list[Path]
    expected: list[str]
    runs: dict[str, list[Run]] = field(default_factory=lambda: {"chaoskit": [], "peer": []})


# ---------------------------------------------------------------- the chaoskit side


def child(model: str, files: list[str]) -> None:
    """Check each file in this process; print one JSON line per file."""
    from chaoskit.checkers._models import get_model
    from chaoskit.checkers.history_formats import read_compact_history
    from chaoskit.checkers.linearizable import check_history

    for name in files:
        t0 = time.perf_counter()
        compact, fmt = read_compact_history(Path(name), model)
        t1 = time.perf_counter()
        init = "" if fmt == "jepsen-edn" and model == "kv" else None
        # count=False: stop at the first failure, as Porcupine does (like with like).
        result = check_history(compact, get_model(model, init=init), count=False)
        t2 = time.perf_counter()
        verdict = {True: "linearizable", False: "not-linearizable"}.get(result.valid, "unknown")  # type: ignore[call-overload]
        print(json.dumps({"verdict": verdict, "parse_s": t1 - t0, "check_s": t2 - t1}), flush=True)


def _ours(model: str, files: list[Path]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--child", model, *map(str, files)]


# ---------------------------------------------------------------- running and measuring


def measure(argv: list[str], limit_mb: float, timeout: float) -> tuple[Run, str]:
    """Run ``argv``, polling its resident memory; kill it over ``limit_mb`` or ``timeout``."""
    t0 = time.perf_counter()
    peak = 0.0
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        killed = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss, hwm = _memory_mb(proc.pid)
            peak = max(peak, hwm)
            if rss > limit_mb:
                killed = f"over {limit_mb:g} MiB"
            elif time.perf_counter() - t0 > timeout:
                killed = f"over {timeout:g} s"
            if killed:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        text = out.read().decode()
    cpu = usage.ru_utime + usage.ru_stime
    # ru_maxrss would do, but Linux carries a parent's peak into its children.
    return Run(wall, cpu, peak or usage.ru_maxrss / 1024, None, [], killed), text


def _memory_mb(pid: int) -> tuple[float, float]:
    """Resident memory of a running process now, and its peak so far (VmHWM), in MiB."""
    found = {}
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    found[line[:5]] = int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return found.get("VmRSS", 0.0), found.get("VmHWM", 0.0)


def run_ours(case: Case, limit_mb: float, timeout: float) -> Run:
    run, text = measure(_ours(case.model, case.ours), limit_mb, timeout)
    lines = [json.loads(x) for x in text.splitlines() if x.startswith("{")]
    run.verdicts = [x["verdict"] for x in lines]
    run.inner = sum(x["parse_s"] + x["check_s"] for x in lines) if lines else None
    return run


def run_peer(case: Case, cmd: list[str], limit_mb: float, timeout: float) -> Run:
    """The peer, once per file; a case of many files adds their figures up."""
    total = Run(0.0, 0.0, 0.0, 0.0, [])
    for path in case.theirs:
        run, text = measure([*cmd, case.model, str(path)], limit_mb, timeout)
        fields = dict(w.split("=", 1) for w in text.split() if "=" in w)
        total.wall += run.wall
        total.cpu += run.cpu
        total.rss_mb = max(total.rss_mb, run.rss_mb)
        total.killed = total.killed or run.killed
        total.verdicts.append(fields.get("verdict", "?"))
        if total.inner is not None and "check_s" in fields:
            total.inner += float(fields.get("parse_s", 0)) + float(fields["check_s"])
        else:
            total.inner = None
    return total


# ---------------------------------------------------------------- the cases


def cases(workdir: Path, sizes: list[str], reference: Path | None) -> list[Case]:
    out = []
    for label in sizes:
        for bad in (False, True) if label == "100k" else (False,):
            stem = workdir / f"kv-{label}{'-bad' if bad else ''}"
            for fmt in ("jsonl", "edn"):
                # In a process of its own, so that this one stays small: Linux counts
                # a parent's peak memory into its children's.
                argv = [sys.executable, str(HERE / "kv_history.py"), "--ops", str(SIZES[label])]
                argv += ["--format", fmt, "-o", str(stem.with_suffix(f".{fmt}"))]
                subprocess.run(argv + (["--bad"] if bad else []), check=True, capture_output=True)
            verdict = "not-linearizable" if bad else "linearizable"
            name = f"kv {label}{' bad' if bad else ''}"
            jsonl, edn = stem.with_suffix(".jsonl"), stem.with_suffix(".edn")
            out.append(Case(name, "kv", [jsonl], [edn], [verdict]))
            if label == "100k" and not bad:  # and the very same file on both sides
                out.append(Case(f"{name} (EDN both)", "kv", [edn], [edn], [verdict]))
    if reference is not None:
        verdicts = dict(
            line.split("\t") for line in (reference / "verdicts.tsv").read_text().splitlines()
        )
        for name, model in (("kv/c50-bad.txt", "kv"), ("kv/c50-ok.txt", "kv")):
            out.append(_reference_case(name.split("/")[1][:-4], model, [name], reference, verdicts))
        out.append(
            _reference_case("etcd_002", "register", ["jepsen/etcd_002.log"], reference, verdicts)
        )
        for model, prefix in (("register", "jepsen/"), ("kv", "kv/")):
            names = [n for n in verdicts if n.startswith(prefix)]
            label = f"reference {model} ({len(names)})"
            out.append(_reference_case(label, model, names, reference, verdicts))
    return out


def _reference_case(
    label: str, model: str, names: list[str], reference: Path, verdicts: dict[str, str]
) -> Case:
    files = [reference / n for n in names]
    return Case(label, model, files, files, [verdicts[n] for n in names])


# ---------------------------------------------------------------- the table


def _median(runs: list[Run], attr: str) -> float | None:
    values = [getattr(r, attr) for r in runs if getattr(r, attr) is not None and not r.killed]
    return statistics.median(values) if values else None


def _fmt(x: float | None, unit: str) -> str:
    if x is None:
        return "-"
    return f"{x:.0f} MiB" if unit == "MiB" else f"{x:.3f} s"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def report(all_cases: list[Case]) -> None:
    head = ("case", "what", "chaoskit", "peer", "ratio")
    rows = [head]
    for case in all_cases:
        ours, peer = case.runs["chaoskit"], case.runs["peer"]
        for attr, what, unit in (
            ("inner", "read+check (in process)", "s"),
            ("wall", "process wall", "s"),
            ("cpu", "process CPU", "s"),
            ("rss_mb", "peak memory", "MiB"),
        ):
            a, b = _median(ours, attr), _median(peer, attr)
            rows.append((case.name, what, _fmt(a, unit), _fmt(b, unit), _ratio(a, b)))
        for side, runs in (("chaoskit", ours), ("peer", peer)):
            wrong = sum(r.verdicts != case.expected for r in runs if not r.killed)
            killed = sorted({r.killed for r in runs if r.killed})
            if wrong or killed:
                note = f"{wrong} rounds with a wrong verdict" if wrong else ""
                rows.append((case.name, f"{side}: {note} {' '.join(killed)}".strip(), "", "", ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--porcupine-cmd", help="the peer checker: CMD MODEL FILE")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default="1k,10k,100k", help="of the generated kv histories")
    parser.add_argument("--reference", type=Path, default=REFERENCE, help="Porcupine's data")
    parser.add_argument("--memory-mb", type=float, default=4096, help="kill a checker above")
    parser.add_argument("--timeout", type=float, default=300, help="kill a checker after")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1:])
        return
    reference = args.reference if (args.reference / "verdicts.tsv").exists() else None
    if reference is None:
        print(f"no reference histories at {args.reference}: generated histories only")
    peer = shlex.split(args.porcupine_cmd) if args.porcupine_cmd else None
    if peer is None:
        print("no --porcupine-cmd: the peer column stays empty")
    with tempfile.TemporaryDirectory() as tmp:
        all_cases = cases(Path(tmp), args.sizes.split(","), reference)
        for r in range(args.rounds):
            for case in all_cases:
                sides = ["chaoskit", "peer"] if r % 2 == 0 else ["peer", "chaoskit"]
                for side in sides:
                    if side == "chaoskit":
                        case.runs[side].append(run_ours(case, args.memory_mb, args.timeout))
                    elif peer is not None:
                        case.runs[side].append(run_peer(case, peer, args.memory_mb, args.timeout))
            print(f"round {r + 1}/{args.rounds} done", flush=True)
    print(f"\nmedians of {args.rounds} interleaved rounds; ratio = chaoskit / peer")
    report(all_cases)


if __name__ == "__main__":
    main()
