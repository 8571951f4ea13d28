"""Split a night's runs into N shards that finish together, the same way everywhere.

Each shard computes the whole split itself and keeps its own part, so the split must
depend only on what every shard has: the matrix, and the previous nights in the
store (which CI restores from one cache for every job). It is

- **weighted** by each run's expected seconds: the duration measured for that cell
  and seed on the latest previous night of the same matrix (same digest) in the
  store; else the mean measured for the cell's other seeds; else an estimate,
  ``time_limit`` + the runtime's launch and teardown time + the target's
  election deadline (a run waits for a first leader, and for one after the final
  heal);
- **balanced** by longest-processing-time-first: runs by expected time, longest
  first, each to the shard with the least work so far (a tie: the lower shard);
  this ends within 4/3 of the best possible longest shard;
- **deterministic**: weights are whole milliseconds and every tie is broken by the
  run's place in the matrix, so equal inputs give equal splits on any machine.

Shards record the digest of the split (``Plan.digest``): a merge names shards that
split differently (a cache restored for some jobs only) and still merges by cell and
seed, so that a run nobody did shows as missing.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chaoskit.errors import ChaoskitError
from chaoskit.nightly.identity import matrix_digest
from chaoskit.nightly.matrix import Matrix, RunItem

#: Seconds to start a cluster and tear it down, beyond the run's time limit, by runtime.
LAUNCH_S = {"local": 3.0, "docker": 20.0, "compose": 10.0}
#: The election deadline of a target that cannot be loaded here (a plug-in missing).
DEFAULT_DEADLINE_S = 5.0


@dataclass(frozen=True)
class Plan:
    """Which runs each shard does: ``shards[k]`` are indexes into ``Matrix.items()``."""

    shards: list[list[int]]
    #: Expected milliseconds per run (by index) and where the figures came from.
    expected_ms: list[int]
    source: str

    @property
    def digest(self) -> str:
        text = json.dumps(self.shards, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def load_s(self, shard: int) -> float:
        """Expected seconds of work of shard ``shard`` (1-based)."""
        return sum(self.expected_ms[i] for i in self.shards[shard - 1]) / 1000


def plan_night(matrix: Matrix, count: int, previous: Sequence[tuple[str, dict[str, Any]]]) -> Plan:
    """The split of ``matrix`` into ``count`` shards, given the store's previous nights."""
    measured, night = measured_seconds(matrix, previous)
    estimates: dict[str, float] = {}
    by_cell: dict[str, list[float]] = {}
    for (key, _), seconds in measured.items():
        by_cell.setdefault(key, []).append(seconds)
    weights = [
        max(1, round(_expected(matrix, item, measured, by_cell, estimates) * 1000))
        for item in matrix.items()
    ]
    source = f"measured on night {night}" if night else "estimated"
    return Plan(shards=split(weights, count), expected_ms=weights, source=source)


def _expected(
    matrix: Matrix,
    item: RunItem,
    measured: dict[tuple[str, int], float],
    by_cell: dict[str, list[float]],
    estimates: dict[str, float],
) -> float:
    """This run's last duration, else its cell's mean, else the estimate (cached)."""
    seconds = measured.get((item.key, item.seed))
    if seconds is not None:
        return seconds
    if by_cell.get(item.key):
        return sum(by_cell[item.key]) / len(by_cell[item.key])
    if item.target not in estimates:
        estimates[item.target] = estimate_seconds(matrix, item)
    return estimates[item.target]


def split(weights: Sequence[int], count: int) -> list[list[int]]:
    """Longest-processing-time-first: ``count`` lists of indexes into ``weights``."""
    order = sorted(range(len(weights)), key=lambda i: (-weights[i], i))
    heap = [(0, shard) for shard in range(count)]
    out: list[list[int]] = [[] for _ in range(count)]
    for i in order:
        load, shard = heapq.heappop(heap)
        out[shard].append(i)
        heapq.heappush(heap, (load + weights[i], shard))
    return [sorted(indexes) for indexes in out]


def measured_seconds(
    matrix: Matrix, previous: Sequence[tuple[str, dict[str, Any]]]
) -> tuple[dict[tuple[str, int], float], str | None]:
    """Durations by (cell key, seed) from the latest previous night of this matrix."""
    digest = matrix_digest(matrix)
    for name, summary in reversed(previous):
        if summary.get("matrix_digest") != digest:
            continue
        found = {
            (str(cell["key"]), int(run["seed"])): float(run["duration_s"])
            for cell in summary.get("cells", [])
            for run in cell.get("runs", [])
            if isinstance(run.get("duration_s"), int | float)
        }
        if found:
            return found, str(summary.get("night") or name)
    return {}, None


def estimate_seconds(matrix: Matrix, item: RunItem) -> float:
    """``time_limit`` + launch and teardown + the target's election deadline."""
    runtime = str(matrix.settings.get("runtime", "local"))
    deadline = matrix.settings.get("election_deadline")
    if not isinstance(deadline, int | float):
        deadline = _target_deadline(item.target)
    return matrix.time_limit + LAUNCH_S.get(runtime, 10.0) + float(deadline)


def _target_deadline(name: str) -> float:
    from chaoskit.run.plan import load_target

    try:
        return float(load_target(name).election_deadline)
    except (ChaoskitError, ImportError, AttributeError, OSError, TypeError, ValueError):
        return DEFAULT_DEADLINE_S
