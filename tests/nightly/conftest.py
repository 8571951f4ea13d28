"""Nights of synthetic runs: a single-machine night and the same night as shards."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from chaoskit.nightly.night import run_nightly
from chaoskit.nightly.shard import Shard
from chaoskit.nightly.shard_run import run_shard
from tests.support.synthetic import SyntheticSpec, write_synthetic_run

MATRIX = """
[matrix]
targets = ["raft", "bully"]
nemeses = ["partition", "kill"]
seeds = [1, 2]
time_limit = 5
nodes = 3

[[exclude]]
target = "bully"
nemesis = "kill"
"""
NIGHT1 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
#: Cells whose synthetic runs show a stalled election.
BROKEN = {("bully", "partition")}


def synthetic_runner(
    night: datetime, broken: set[tuple[str, str]] = BROKEN, fail_at: int | None = None
) -> Callable[[dict[str, Any]], Path]:
    """A ``run_one`` writing seeded synthetic runs into the cell's store; the
    ``fail_at``-th call (1-based) is a Ctrl-C, as a shard stopped half-way."""
    calls: list[dict[str, Any]] = []

    def run_one(cell: dict[str, Any]) -> Path:
        calls.append(cell)
        if fail_at is not None and len(calls) == fail_at:
            raise KeyboardInterrupt
        spec = SyntheticSpec(
            seed=cell["seed"],
            target=cell["target"],
            nemeses=(cell["nemesis"],),
            duration_s=12,
            ops=60,
            stalled=(cell["target"], cell["nemesis"]) in broken,
            # Each store numbers its own runs: shards' folders collide by name.
            started_at=night + timedelta(seconds=len(calls)),
        )
        run_dir = write_synthetic_run(Path(cell["store"]), spec)
        # The run pages are not what these tests look at: stand-ins spare drawing them.
        (run_dir / "report.html").write_text("<html>synthetic run</html>")
        (run_dir / "junit.xml").write_text("<testsuites/>")
        return run_dir

    return run_one


def quiet() -> Console:
    return Console(file=io.StringIO(), width=140)


def write_matrix(where: Path, text: str = MATRIX) -> Path:
    where.mkdir(parents=True, exist_ok=True)
    path = where / "matrix.toml"
    path.write_text(text)
    return path


def single_night(matrix: Path, store: Path, night: datetime = NIGHT1) -> dict[str, Any]:
    run_nightly(matrix, store, synthetic_runner(night), console=quiet(), now=night, night="n1")
    (path,) = (store / "nightly").glob("*/summary.json")
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def shard_stores(
    matrix: Path, root: Path, night_id: str = "n1", count: int = 3, when: datetime = NIGHT1
) -> list[Path]:
    """Run every shard of the night into its own store under ``root``."""
    stores = []
    for index in range(1, count + 1):
        store = root / f"shard-{index}"
        run_shard(
            matrix,
            store,
            synthetic_runner(when),
            Shard(index, count),
            night_id,
            console=quiet(),
        )
        stores.append(store)
    return stores


def comparable(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A night's cells without what differs between machines: where the runs are
    stored and how long they took."""
    out = []
    for cell in cells:
        runs = [
            {k: v for k, v in r.items() if k not in ("run_dir", "duration_s")} for r in cell["runs"]
        ]
        out.append({**cell, "runs": runs})
    return out
