"""Every quick benchmark, one after the other: ``python benchmarks/run_all.py``.

Runs the proxy, election, linearizability, report, nightly split, live-check, observer
and set-up benchmarks, then Docker start-up when an engine answers (``--no-docker``
skips it). The two long ones run only when asked: ``--detection`` (about 40 minutes of
chaoskit runs) and ``--endurance MINUTES`` (one run of that length). Each benchmark
prints its own figures; this script adds how long each took and exits non-zero if any
of them failed.

Run it on a quiet machine: the figures are wall-clock times on two cores.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICK = (
    "proxy_bench.py",
    "raft_election.py",
    "linearizability.py",
    "report_size.py",
    "nightly_split.py",
    "live_checks.py",
    "observer.py",
    "setup_teardown.py",
)


def engine_answers() -> bool:
    """A Docker engine is reachable (the docker start-up benchmark needs one)."""
    from chaoskit.errors import SetupError
    from chaoskit.runtimes.images import docker_client

    try:
        docker_client()
    except SetupError:
        return False
    return True


def plan(args: argparse.Namespace) -> list[list[str]]:
    runs = [[name] for name in QUICK]
    if not args.no_docker and engine_answers():
        runs.append(["docker_startup.py"])
    if args.detection:
        runs.append(["detection.py"])
    if args.endurance:
        runs.append(["endurance.py", "--minutes", f"{args.endurance:g}"])
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-docker", action="store_true", help="skip Docker start-up")
    parser.add_argument("--detection", action="store_true", help="also the detection rates")
    parser.add_argument("--endurance", type=float, metavar="MINUTES", help="also an endurance run")
    args = parser.parse_args()
    failed: list[str] = []
    for argv in plan(args):
        print(f"\n=== {' '.join(argv)}", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, str(HERE / argv[0]), *argv[1:]])
        print(f"=== {argv[0]}: exit {code}, {time.monotonic() - started:.0f} s", flush=True)
        if code != 0:
            failed.append(argv[0])
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
