"""Benchmark the fault file system against the plain directory it is backed by.

Run: ``python benchmarks/faultfs_overhead.py`` (as root, or with user_allow_other, on a
machine with FUSE: ``/dev/fuse`` and ``fusermount3``).

Both paths are directories of the same file system (``--dir``, default: the system's
temporary directory): "plain" writes there directly; "faultfs" writes through a fault
file system mounted on an empty directory, whose backing directory sits next to the
plain one. Each workload runs on both, alternately, ``--rounds`` times, and the best
round counts (to damp the noise of other work on the machine).

1. Sequential writes: ``--size-mb`` MiB in 128 KiB writes to a new file, then one
   fsync; MB/s over the whole, fsync included (the fault file system copies every page
   into its cache and then to the backing file at the fsync).
2. Small synced appends, what a consensus log does: ``--records`` appends of 100
   bytes to one file, each followed by fsync; ops/s and the latency of one
   write+fsync pair, p50 and p99.
3. Reads of the file written in 1 (through the kernel page cache on the plain path).

Printed: one table with both paths side by side and the faultfs/plain ratio.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from chaoskit.disk import DiskFaults

CHUNK = 128 * 1024
RECORD = b"r" * 99 + b"\n"


def sequential_write(directory: Path, size_mb: int) -> float:
    """MB/s of writing ``size_mb`` MiB in CHUNK writes plus one fsync."""
    chunk = os.urandom(CHUNK)
    count = size_mb * 1024 * 1024 // CHUNK
    path = directory / f"seq-{uuid.uuid4().hex[:6]}"
    start = time.perf_counter()
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    try:
        for _ in range(count):
            os.write(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - start
    return count * CHUNK / elapsed / 1e6


def sequential_read(directory: Path) -> float:
    """MB/s of reading back the largest file of ``directory`` in CHUNK reads."""
    path = max(directory.glob("seq-*"), key=lambda p: p.stat().st_size)
    start = time.perf_counter()
    total = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        while data := os.read(fd, CHUNK):
            total += len(data)
    finally:
        os.close(fd)
    return total / (time.perf_counter() - start) / 1e6


def synced_appends(directory: Path, records: int) -> dict[str, float]:
    """ops/s and write+fsync latency (p50, p99, ms) of ``records`` synced appends."""
    path = directory / f"log-{uuid.uuid4().hex[:6]}"
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
    latencies: list[float] = []
    try:
        start = time.perf_counter()
        for _ in range(records):
            t0 = time.perf_counter()
            os.write(fd, RECORD)
            os.fsync(fd)
            latencies.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
    finally:
        os.close(fd)
    cuts = statistics.quantiles(latencies, n=100)
    return {"ops": records / elapsed, "p50": cuts[49] * 1e3, "p99": cuts[98] * 1e3}


def best(rounds: int, run: Callable[[], float], *, low: bool = False) -> float:
    values = [run() for _ in range(rounds)]
    return min(values) if low else max(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--size-mb", type=int, default=64)
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ckbench-", dir=args.dir))
    plain = work / "plain"
    plain.mkdir()
    faults = DiskFaults(uuid.uuid4().hex[:10], root=work / "disk")
    try:
        mounted = faults.mount("bench", work / "mnt").data_dir
        results = measure({"plain": plain, "faultfs": mounted}, args)
    finally:
        faults.unmount_all()
        shutil.rmtree(work, ignore_errors=True)
    report(results, args)


def measure(paths: dict[str, Path], args: argparse.Namespace) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {name: {} for name in paths}
    seq: dict[str, list[float]] = {name: [] for name in paths}
    appends: dict[str, list[dict[str, float]]] = {name: [] for name in paths}
    for _ in range(args.rounds):  # alternate, so both see the same background load
        for name, directory in paths.items():
            seq[name].append(sequential_write(directory, args.size_mb))
            appends[name].append(synced_appends(directory, args.records))
    for name, directory in paths.items():
        results[name]["write_mbps"] = max(seq[name])
        results[name]["read_mbps"] = best(args.rounds, lambda d=directory: sequential_read(d))
        results[name]["ops"] = max(a["ops"] for a in appends[name])
        results[name]["p50"] = min(a["p50"] for a in appends[name])
        results[name]["p99"] = min(a["p99"] for a in appends[name])
    return results


def report(results: dict[str, dict[str, float]], args: argparse.Namespace) -> None:
    plain, ours = results["plain"], results["faultfs"]
    print(
        f"fault file system vs plain directory ({args.dir}); best of {args.rounds} rounds; "
        f"{args.size_mb} MiB sequential, {args.records} synced 100-byte appends"
    )
    rows = [
        ("sequential write + fsync, MB/s", "write_mbps"),
        ("sequential read, MB/s", "read_mbps"),
        ("synced appends, ops/s", "ops"),
        ("write+fsync latency p50, ms", "p50"),
        ("write+fsync latency p99, ms", "p99"),
    ]
    print(f"{'':<32}{'plain':>10}{'faultfs':>10}{'faultfs/plain':>15}")
    for label, key in rows:
        ratio = ours[key] / plain[key] if plain[key] else float("nan")
        print(f"{label:<32}{plain[key]:>10.2f}{ours[key]:>10.2f}{ratio:>14.2f}x")


if __name__ == "__main__":
    main()
