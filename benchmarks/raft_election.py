"""Election speed of the reference Raft cluster: ``python benchmarks/raft_election.py``.

Two figures, each over ``--trials`` runs (default 10) of a 5-node local cluster with
the default timing (10 ms ticks, 150-300 ms election timeout, 50 ms heartbeats):

- first leader: from the moment the last of the 5 processes is up (the first time it
  answers ``/status``; all nodes are polled every few ms) to the first poll in which
  some node says it is leader (0 when a majority elected one before the last was up);
  also shown from the moment the last process was spawned (Popen returned), which adds
  interpreter start and the import of aiohttp, about 0.5 s of CPU per process;
- failover: from the SIGKILL of the leader to the first poll in which another node
  says it is leader of a higher term.

The targets are a median under 1.0 s for the first leader (from the last process up)
and for the failover. Figures depend on how loaded the machine is.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaoskit.targets._node._procs import LocalCluster

TARGET_S = 1.0


def _leader(c: LocalCluster, min_term: int = 0, exclude: str | None = None) -> str | None:
    for node, st in c.leaders().items():
        if node != exclude and st["term"] > min_term:
            return node
    return None


def _first_leader(c: LocalCluster) -> tuple[float, float]:
    """Poll until some node leads; (time the last node came up, time of the leader)."""
    up: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for node in c.ids:
            st = c.status(node)
            now = time.monotonic()
            if st is None:
                continue
            up.setdefault(node, now)
            if st["role"] == "leader":
                # Nodes not yet up when a leader exists: wait for them to count "last up".
                while len(up) < len(c.ids):
                    for other in c.ids:
                        if other not in up and c.status(other) is not None:
                            up[other] = time.monotonic()
                return max(up.values()), now
    raise TimeoutError("no leader within 60 s")


def one_trial(base: Path, n: int) -> tuple[float, float, float]:
    """Seconds to the first leader after the last node is up and after it was spawned,
    and to a new leader after a SIGKILL of the first."""
    with LocalCluster("chaoskit.targets.raft", n, base) as c:
        for node in c.ids:
            c.start(node)
        spawned = time.monotonic()
        last_up, elected = _first_leader(c)
        first = c.wait_for(c.stable_leader, timeout=30)
        term = c.status(first)["term"]  # type: ignore[index]
        c.kill(first)
        killed = time.monotonic()
        c.wait_for(lambda: _leader(c, term, exclude=first), timeout=30, every=0.005)
        return max(0.0, elected - last_up), elected - spawned, time.monotonic() - killed


def _summary(name: str, values: list[float], target: bool = True) -> str:
    med = statistics.median(values)
    verdict = "ok" if med < TARGET_S else "OVER TARGET"
    line = (
        f"{name:<14} median {med * 1000:7.1f} ms   min {min(values) * 1000:7.1f} ms   "
        f"max {max(values) * 1000:7.1f} ms"
    )
    return line + (f"   target < {TARGET_S * 1000:.0f} ms: {verdict}" if target else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=5)
    args = parser.parse_args()
    firsts, spawns, failovers = [], [], []
    with tempfile.TemporaryDirectory(prefix="raft-bench-") as tmp:
        for i in range(args.trials):
            first, spawn, failover = one_trial(Path(tmp) / f"t{i}", args.nodes)
            firsts.append(first)
            spawns.append(spawn)
            failovers.append(failover)
            print(
                f"trial {i + 1:2}: first leader {first * 1000:7.1f} ms after the last node "
                f"was up ({spawn * 1000:7.1f} ms after it was spawned), "
                f"failover {failover * 1000:7.1f} ms",
                flush=True,
            )
    print(_summary("first leader", firsts))
    print(_summary("from spawn", spawns, target=False))
    print(_summary("failover", failovers))
    ok = statistics.median(firsts) < TARGET_S and statistics.median(failovers) < TARGET_S
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
