"""``chaoskit nightly merge DIR...``: the shards of one night back into one night.

Each DIR is a shard's store (an artifact folder a CI job uploaded). The merge finds
the shard summaries in them (``shard_run``), takes those of one night and one matrix
(and refuses, naming every shard, when the folders hold several: shards of different
nights or matrices are never mixed), copies each shard's runs into ``--store`` and
writes the night's ``summary.json`` and ``report.html`` exactly as a single-machine
night does (``night.write_night``), so trends and "what changed" read it as any
other night. What did not come back is not a pass: a shard that never reported or
did not finish is named on the page, and each of its runs not reported is a
``missing`` run of its cell, which fails the night (exit status 1).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from chaoskit.errors import ConfigError, SetupError
from chaoskit.nightly.identity import SHORT, matrix_digest
from chaoskit.nightly.matrix import Matrix, RunItem, parse_matrix
from chaoskit.nightly.night import Entries, cells_of, night_summary, write_night
from chaoskit.nightly.shard_run import FORMAT, KIND, SHARDS_DIR

#: Seconds between looks at the shard stores while ``--wait`` waits for shards.
POLL_S = 5.0


@dataclass(frozen=True)
class Found:
    """One shard summary found in a shard store."""

    path: Path
    store: Path
    doc: dict[str, Any]

    @property
    def index(self) -> int:
        return int(self.doc["shard"]["index"])

    @property
    def count(self) -> int:
        return int(self.doc["shard"]["count"])

    @property
    def name(self) -> str:
        return f"shard {self.index}/{self.count} ({self.path})"


def merge_night(
    dirs: Sequence[Path],
    store: Path,
    *,
    night: str | None = None,
    matrix: Matrix | None = None,
    wait_s: float = 0.0,
    console: Console | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Merge the shards of one night in ``dirs`` into ``store``; the exit status."""
    console = console or Console()
    digest = matrix_digest(matrix) if matrix is not None else None
    shards = _gather(dirs, night, digest, wait_s, sleep, console)
    first = shards[min(shards)]
    text = str(first.doc["matrix_text"])
    merged = parse_matrix(text, f"the matrix in {first.path}")
    if matrix_digest(merged) != first.doc["matrix_digest"]:
        raise ConfigError(f"{first.path}: its matrix text does not give its matrix digest")
    count = first.count
    warnings = _warnings(shards)
    owner = _owners(first, merged)
    entries = _collect(merged, shards, Path(store), warnings)
    missing = {item: _why(owner.get(i), shards, count) for i, item in enumerate(merged.items())}
    rows = [_row(k, count, shards.get(k), first) for k in range(1, count + 1)]
    started = min(datetime.fromisoformat(s.doc["started_at"]) for s in shards.values())
    ends = [s.doc.get("finished_at") or s.doc["started_at"] for s in shards.values()]
    summary = night_summary(
        merged,
        str(first.doc.get("matrix_file", "")),
        cells_of(merged, entries, missing),
        started=started.astimezone(UTC),
        finished=max(datetime.fromisoformat(e) for e in ends).astimezone(UTC),
        night=str(first.doc["night"]),
        shards=rows,
        warnings=warnings,
    )
    if any(r["status"] != "done" for r in rows):
        summary.update(status="fail", exit_status=1)
    write_night(Path(store), summary, merged, text, console)
    for r in rows:
        if r["status"] != "done":
            console.print(f"[red]shard {r['index']}/{count}: {r['status']}[/]")
    for line in warnings:
        console.print(f"[yellow]warning:[/] {line}")
    return int(summary["exit_status"])


# -- finding the shards -----------------------------------------------------------------


def find_shards(dirs: Sequence[Path], *, strict: bool = True) -> list[Found]:
    """Every shard summary in the shard stores ``dirs`` (``strict``: a folder without
    any is an error; else it is skipped, as while waiting for shards to finish)."""
    out = []
    for d in map(Path, dirs):
        base = d / SHARDS_DIR
        if strict and not d.is_dir():
            raise ConfigError(f"no such folder: {d}")
        if not base.is_dir():
            if strict:
                raise ConfigError(
                    f"{d} holds no nightly shard (no {SHARDS_DIR}/ folder): give the "
                    "folders the shards were given as --store"
                )
            continue
        out += [_read(p, d) for p in sorted(base.glob("*/*/shard-*-of-*.json"))]
    return out


def _read(path: Path, store: Path) -> Found:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        found = Found(path, store, doc)
        if doc.get("kind") != KIND:
            raise ValueError("not a shard summary")
        if doc.get("format") != FORMAT:
            raise ValueError(f"format {doc.get('format')}, this chaoskit reads {FORMAT}")
        _ = (found.index, found.count, doc["night"], doc["matrix_digest"], doc["matrix_text"])
        datetime.fromisoformat(doc["started_at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a readable chaoskit shard summary ({exc})") from None
    return found


def choose(found: list[Found], night: str | None, digest: str | None) -> dict[int, Found]:
    """The shards of the one night (and matrix) asked for, by index; refuse a mix."""
    if night:
        found = [f for f in found if f.doc["night"] == night]
    if digest:
        found = [f for f in found if f.doc["matrix_digest"] == digest]
    if not found:
        asked = f" of night {night}" if night else ""
        asked += f" of this matrix ({digest[:SHORT]})" if digest else ""
        raise ConfigError(f"no shard summary{asked} in the folders given")
    groups: dict[tuple[str, str], list[Found]] = {}
    for f in found:
        groups.setdefault((f.doc["night"], f.doc["matrix_digest"]), []).append(f)
    if len(groups) > 1:
        listed = "; ".join(
            f"night {n}, matrix {d[:SHORT]}: " + ", ".join(f.name for f in fs)
            for (n, d), fs in sorted(groups.items())
        )
        raise ConfigError(
            f"the folders hold shards of {len(groups)} nights or matrices, which are never "
            f"mixed: {listed}; choose one with --night ID (and --matrix FILE)"
        )
    counts = sorted({f.count for f in found})
    if len(counts) > 1:
        raise ConfigError(
            "the shards disagree on the number of shards: " + ", ".join(f.name for f in found)
        )
    best: dict[int, Found] = {}
    for f in sorted(found, key=_preference):
        best.setdefault(f.index, f)
    return best


def _preference(f: Found) -> tuple[bool, float]:
    """A finished shard first, then the latest started (a retried job's second try)."""
    return (f.doc.get("status") != "done", -datetime.fromisoformat(f.doc["started_at"]).timestamp())


def _gather(
    dirs: Sequence[Path],
    night: str | None,
    digest: str | None,
    wait_s: float,
    sleep: Callable[[float], None],
    console: Console,
) -> dict[int, Found]:
    """The shards to merge; with ``wait_s``, wait that long for every one to be done."""
    deadline = time.monotonic() + max(0.0, wait_s)
    seen = -1
    while time.monotonic() < deadline:
        try:
            shards = choose(find_shards(dirs, strict=False), night, digest)
        except ConfigError:
            shards = {}
        done = sum(f.doc.get("status") == "done" for f in shards.values())
        if shards and done == next(iter(shards.values())).count:
            return shards
        if done != seen:
            console.print(f"waiting for shards: {done} done")
            seen = done
        sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
    return choose(find_shards(dirs), night, digest)


# -- merging ---------------------------------------------------------------------------


def _warnings(shards: dict[int, Found]) -> list[str]:
    """What the shards disagree on that does not stop a merge."""
    out = []
    for field, what in (("plan", "split the matrix differently"), ("chaoskit", "ran versions")):
        values = {
            k: (f.doc.get(field) or {}).get("digest") if field == "plan" else f.doc.get(field)
            for k, f in sorted(shards.items())
        }
        if len(set(values.values())) > 1:
            each = ", ".join(f"shard {k}: {str(v)[:SHORT]}" for k, v in values.items())
            out.append(f"the shards {what} ({each}); runs are merged by cell and seed")
    return out


def _owners(first: Found, matrix: Matrix) -> dict[int, int]:
    """Which shard (1-based) the split gave each run (by its place in the matrix)."""
    plan = (first.doc.get("plan") or {}).get("shards") or []
    owner = {i: k + 1 for k, indexes in enumerate(plan) for i in indexes}
    return {i: k for i, k in owner.items() if 0 <= i < len(matrix.items())}


def _why(shard: int | None, shards: dict[int, Found], count: int) -> str:
    if shard is None:
        return "no shard was given this run"
    if shard not in shards:
        return f"shard {shard}/{count} never reported"
    status = shards[shard].doc.get("status")
    if status != "done":
        return f"shard {shard}/{count} did not finish ({status})"
    return f"shard {shard}/{count} did not run it (the shards split the matrix differently)"


def _collect(matrix: Matrix, shards: dict[int, Found], store: Path, warnings: list[str]) -> Entries:
    """Every reported run, its folder copied into ``store``."""
    items = matrix.items()
    out: Entries = {}
    for _, found in sorted(shards.items()):
        for run in found.doc.get("runs", []):
            index = run.get("index")
            item = items[index] if isinstance(index, int) and 0 <= index < len(items) else None
            if item is None or (item.key, item.seed) != (run.get("key"), run.get("seed")):
                raise ConfigError(f"{found.path}: a run that is not in its matrix: {run}")
            if item in out:
                warnings.append(f"{item.key} seed {item.seed} ran twice; kept the lower shard's")
                continue
            entry = {name: v for name, v in run.items() if name not in ("index", "key")}
            entry["run_dir"] = _bring(entry.get("run_dir"), found, store, item, warnings)
            out[item] = entry
    return out


def _bring(
    run_dir: str | None, found: Found, store: Path, item: RunItem, warnings: list[str]
) -> str | None:
    """Copy a run's folder from the shard's store into ``store``; its new relative path."""
    if not run_dir or Path(run_dir).is_absolute():
        return run_dir
    if ".." in Path(run_dir).parts:  # a summary must not name folders outside its store
        warnings.append(f"{item.key} seed {item.seed}: run folder {run_dir!r} left out")
        return None
    src, dest = found.store / run_dir, store / run_dir
    if not src.is_dir():
        warnings.append(f"{item.key} seed {item.seed}: {src} is not in shard {found.index}'s store")
        return None
    if dest.exists() and (src.resolve() == dest.resolve() or _same_run(src, dest)):
        return run_dir
    if dest.exists():
        dest = dest.with_name(f"{dest.name}-shard-{found.index}")
        run_dir = dest.relative_to(store).as_posix()
    try:
        shutil.copytree(src, dest, symlinks=True, dirs_exist_ok=True)
    except OSError as exc:
        raise SetupError(f"cannot copy the run {src} into {store}: {exc}") from exc
    return run_dir


def _same_run(a: Path, b: Path) -> bool:
    """Two folders of the same run: equal ``config.json`` (it names the run's id)."""
    try:
        return (a / "config.json").read_bytes() == (b / "config.json").read_bytes()
    except OSError:
        return False


def _row(index: int, count: int, found: Found | None, first: Found) -> dict[str, Any]:
    """The night's line about one shard: done, running (it broke), interrupted, missing."""
    plan = first.doc.get("plan") or {}
    given = plan.get("shards") or []
    expected = plan.get("expected_s") or []
    row: dict[str, Any] = {
        "index": index,
        "count": count,
        "status": "missing",
        "assigned": len(given[index - 1]) if index <= len(given) else None,
        "expected_s": expected[index - 1] if index <= len(expected) else None,
        "runs": 0,
        "host": None,
        "started_at": None,
        "finished_at": None,
        "store": None,
    }
    if found is not None:
        row.update(
            status=found.doc.get("status", "running"),
            runs=len(found.doc.get("runs", [])),
            host=found.doc.get("host"),
            started_at=found.doc.get("started_at"),
            finished_at=found.doc.get("finished_at"),
            store=str(found.store),
        )
    return row
