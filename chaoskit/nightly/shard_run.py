"""``chaoskit nightly MATRIX --shard I/N``: run one shard's runs and record them.

A shard works out the whole split (``balance``) and runs its own part into its store,
as a single-machine night would; instead of a night's report it writes a **shard
summary** that ``chaoskit nightly merge`` reads::

    <store>/nightly-shards/<night id>/<matrix digest, 12>/shard-<I>-of-<N>.json

It holds the night id, the matrix (digest, file name and text), the shard and the
split it used, the runs it was given and, one entry per run as it finishes, what
each found (the entries of a night's ``summary.json``). It is written when the shard
starts (status ``running``), after every run, and at the end (``done``; Ctrl-C:
``interrupted``), so a shard killed half-way leaves what it did and says it did not
finish, and a shard that never started leaves nothing: both are named by the merge.

A shard's exit status says whether it carried out its part (0), not what the runs
found: the night's verdict is the merge's. So a CI engine that retries failed jobs
(a Kubernetes Job's ``backoffLimit``) retries a shard that broke, not one that found
an anomaly.
"""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rich.console import Console

from chaoskit.nightly.balance import plan_night
from chaoskit.nightly.identity import SHORT, matrix_digest
from chaoskit.nightly.matrix import RunItem, load_matrix
from chaoskit.nightly.night import RunOne, cells_of, run_items, summary_table
from chaoskit.nightly.shard import Shard
from chaoskit.store.rundir import write_json

SHARDS_DIR = "nightly-shards"
KIND = "chaoskit-nightly-shard"
FORMAT = 1


def shard_path(store: Path, night: str, digest: str, shard: Shard) -> Path:
    """Where shard ``shard`` of ``night`` of the matrix ``digest`` writes its summary."""
    return store / SHARDS_DIR / night / digest[:SHORT] / f"{shard.slug}.json"


def run_shard(
    matrix_path: Path,
    store: Path,
    run_one: RunOne,
    shard: Shard,
    night: str,
    *,
    console: Console | None = None,
) -> int:
    """Run shard ``shard`` of the matrix into ``store``; 0 once its part is done."""
    console = console or Console()
    store = Path(store)
    matrix = load_matrix(matrix_path)
    digest = matrix_digest(matrix)
    plan = plan_night(matrix, shard.count, _latest_night_of(store, digest))
    items = matrix.items()
    mine = plan.shards[shard.index - 1]
    doc: dict[str, Any] = {
        "kind": KIND,
        "format": FORMAT,
        "night": night,
        "matrix_digest": digest,
        "matrix_file": str(matrix_path),
        "matrix_text": Path(matrix_path).read_text(encoding="utf-8"),
        "shard": {"index": shard.index, "count": shard.count},
        "plan": {
            "digest": plan.digest,
            "source": plan.source,
            "shards": plan.shards,
            "expected_s": [plan.load_s(k) for k in range(1, shard.count + 1)],
        },
        "chaoskit": _version(),
        "host": socket.gethostname(),
        "started_at": datetime.now(UTC).isoformat(),
        "finished_at": None,
        "status": "running",
        "runs": [],
    }
    path = shard_path(store, night, digest, shard)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, doc)
    console.print(
        f"shard {shard} of night {night}, matrix {digest[:SHORT]}: {len(mine)} of "
        f"{len(items)} runs, about {plan.load_s(shard.index):.0f} s ({plan.source})"
    )

    place = {items[i]: i for i in mine}

    def record(item: RunItem, entry: dict[str, Any]) -> None:
        doc["runs"].append({"index": place[item], "key": item.key, **entry})
        write_json(path, doc)

    try:
        entries = run_items(matrix, [items[i] for i in mine], store, run_one, console, after=record)
    except BaseException:
        doc["status"] = "interrupted"
        doc["finished_at"] = datetime.now(UTC).isoformat()
        write_json(path, doc)
        raise
    doc["status"] = "done"
    doc["finished_at"] = datetime.now(UTC).isoformat()
    write_json(path, doc)
    console.print(summary_table(cells_of(matrix, entries), title=f"nightly shard {shard}"))
    console.print(f"shard summary: {path}")
    return 0


def _latest_night_of(store: Path, digest: str) -> list[tuple[str, dict[str, Any]]]:
    """The newest night of the matrix ``digest`` in the store (its measured durations
    weigh the split), newest first read, so a long history is not parsed whole."""
    for path in sorted((store / "nightly").glob("*/summary.json"), reverse=True):
        try:
            summary = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(summary, dict) and summary.get("matrix_digest") == digest:
            return [(path.parent.name, summary)]
    return []


def _version() -> str:
    try:
        return metadata.version("chaoskit")
    except metadata.PackageNotFoundError:
        return "unknown"
