"""``chaoskit nightly MATRIX.toml``: run a matrix, then write a resilience report with trends.

A cell is one (target, nemesis, workload); it runs once per seed and passes when
every seed's run is valid. The report shows pass/fail per cell, the anomalies found,
failover p50/p99 per cell (pooled over its seeds), charts of each metric over the
previous nights in the same store, and what changed since the last night: new
failures, fixed cells and failover regressions. Exit status 1 if any cell failed
(an anomaly, a run that could not be carried out, a run no shard reported), else 0.
The matrix file is read by ``chaoskit.nightly.matrix``.

Each run gets ``run_one(cell)`` with ``cell`` = ``{"target", "nemesis", "workload",
"seed", "time_limit", "nodes", "options", "store"}``; it returns the run's directory.
Written: ``<store>/nightly/<UTC time>/summary.json`` and ``report.html``. The pieces
here (running a list of runs, grouping runs into cells, writing a night) are shared
with a shard (``shard_run``) and a merge of shards (``merge``), so that a sharded
night is the same night as a single-machine one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chaoskit.checkers.figures import percentile
from chaoskit.errors import ChaoskitError
from chaoskit.nightly.identity import matrix_digest
from chaoskit.nightly.matrix import Matrix, RunItem, load_matrix
from chaoskit.report._junit import JUNIT, write_junit
from chaoskit.report._model import failover_values, flat_anomalies, read_results
from chaoskit.report._nightly_page import render_nightly
from chaoskit.report._run_report import REPORT, write_run_report
from chaoskit.store.rundir import write_json

__all__ = ["Matrix", "load_matrix", "previous_summaries", "run_nightly", "summary_table"]

RunOne = Callable[[dict[str, Any]], Path]
#: Cell statuses that fail a night: an anomaly, a run not carried out, a run not reported.
FAILED = ("fail", "error", "missing")
#: The folder of a night: its start, UTC, to the microsecond (sorts by time).
NIGHT_DIR = "%Y%m%dT%H%M%S.%fZ"
Entries = dict[RunItem, dict[str, Any]]


def run_nightly(
    matrix_path: Path,
    store: Path,
    run_one: RunOne,
    *,
    console: Console | None = None,
    now: datetime | None = None,
    night: str | None = None,
) -> int:
    """Run every cell of the matrix, write the nightly report, return the exit status."""
    matrix = load_matrix(matrix_path)
    console = console or Console()
    started = now or datetime.now(UTC)
    entries = run_items(matrix, matrix.items(), Path(store), run_one, console)
    summary = night_summary(
        matrix,
        str(matrix_path),
        cells_of(matrix, entries),
        started=started,
        finished=datetime.now(UTC),
        night=night or started.strftime("%Y-%m-%d"),
    )
    text = Path(matrix_path).read_text(encoding="utf-8")
    write_night(Path(store), summary, matrix, text, console)
    return int(summary["exit_status"])


def night_summary(
    matrix: Matrix,
    matrix_file: str,
    cells: list[dict[str, Any]],
    *,
    started: datetime,
    finished: datetime,
    night: str,
    **extra: Any,
) -> dict[str, Any]:
    """A night's ``summary.json``: its identity, its cells, its status."""
    status = (
        "fail"
        if any(c["status"] in FAILED for c in cells)
        else "unknown"
        if any(c["status"] == "unknown" for c in cells)
        else "pass"
    )
    return {
        "started_at": started.isoformat(),
        "finished_at": finished.isoformat(),
        "matrix_file": matrix_file,
        "night": night,
        "matrix_digest": matrix_digest(matrix),
        "status": status,
        "cells": cells,
        "exit_status": 1 if status == "fail" else 0,
        **extra,
    }


def write_night(
    store: Path, summary: dict[str, Any], matrix: Matrix, matrix_text: str, console: Console
) -> Path:
    """Write ``summary.json`` and ``report.html`` of a night; print its table."""
    started = datetime.fromisoformat(summary["started_at"]).astimezone(UTC)
    out_dir = store / "nightly" / started.strftime(NIGHT_DIR)
    previous = previous_summaries(store, limit=matrix.nights, exclude=out_dir.name)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "summary.json", summary)
    page = render_nightly(
        summary,
        previous,
        out_dir,
        matrix_text,
        ratio=matrix.regression_ratio,
        min_ms=matrix.regression_min_ms,
    )
    tmp = out_dir / (REPORT + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_dir / REPORT)
    console.print(summary_table(summary["cells"]))
    console.print(f"nightly report: {out_dir / REPORT}", markup=False, highlight=False)
    return out_dir


def run_items(
    matrix: Matrix,
    items: Iterable[RunItem],
    store: Path,
    run_one: RunOne,
    console: Console,
    *,
    after: Callable[[RunItem, dict[str, Any]], None] | None = None,
) -> Entries:
    """Run ``items`` one after the other with a progress bar; ``after`` sees each entry."""
    todo = list(items)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    out: Entries = {}
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("nightly", total=len(todo))
        for item in todo:
            progress.update(task, description=escape(f"{item.key} seed {item.seed}"))
            out[item] = _one(matrix.run_settings(item, store), store, run_one)
            if after is not None:
                after(item, out[item])
            progress.advance(task)
    return out


def _one(cell: dict[str, Any], store: Path, run_one: RunOne) -> dict[str, Any]:
    """Run one seed; a run that cannot be carried out is an ``error``, not a crash."""
    entry: dict[str, Any] = {
        "seed": cell["seed"],
        "run_dir": None,
        "verdict": "error",
        "anomalies": 0,
        "anomaly_kinds": {},
        "failover_ms": [],
        "error": None,
        "duration_s": None,
    }
    began = time.monotonic()
    try:
        run_dir = Path(run_one(cell))
        results = read_results(run_dir)
        _ensure_reports(run_dir)
    except Exception as exc:  # noqa: BLE001 (a nightly records a broken run, goes on)
        known = isinstance(exc, ChaoskitError)
        entry["error"] = str(exc) if known else f"{type(exc).__name__}: {exc}"
        entry["duration_s"] = round(time.monotonic() - began, 3)
        return entry
    anomalies = flat_anomalies(results)
    kinds: dict[str, int] = {}
    for a in anomalies:
        kinds[str(a.get("kind"))] = kinds.get(str(a.get("kind")), 0) + 1
    checkers = (results or {}).get("checkers") or {}
    metrics = (checkers.get("stalled-election") or {}).get("metrics") or {}
    entry.update(
        run_dir=_rel(run_dir, store),
        verdict=results.get("valid", "unknown") if results else "unknown",
        anomalies=len(anomalies),
        anomaly_kinds=kinds,
        failover_ms=failover_values(metrics),
        duration_s=round(time.monotonic() - began, 3),
    )
    return entry


def _ensure_reports(run_dir: Path) -> None:
    if not (run_dir / REPORT).exists():
        write_run_report(run_dir)
    if not (run_dir / JUNIT).exists():
        write_junit(run_dir)


def _rel(path: Path, store: Path) -> str:
    """Store-relative when the run is inside the store, else absolute."""
    try:
        return path.resolve().relative_to(store.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def missing_entry(seed: int, note: str) -> dict[str, Any]:
    """The entry of a run that no shard reported: not a pass, and says why."""
    return {
        "seed": seed,
        "run_dir": None,
        "verdict": "missing",
        "anomalies": 0,
        "anomaly_kinds": {},
        "failover_ms": [],
        "error": note,
        "duration_s": None,
    }


def cells_of(
    matrix: Matrix,
    entries: Mapping[RunItem, dict[str, Any]],
    missing: Mapping[RunItem, str] | None = None,
) -> list[dict[str, Any]]:
    """Group run entries into cells in matrix order. An item without an entry is left
    out, or, when ``missing`` is given, a ``missing`` run with its note."""
    out = []
    for target, nemesis, workload in matrix.cells():
        runs = []
        for seed in matrix.seeds:
            item = RunItem(target, nemesis, workload, seed)
            if item in entries:
                runs.append(entries[item])
            elif missing is not None:
                runs.append(missing_entry(seed, missing.get(item, "no shard reported this run")))
        if runs:
            out.append(_cell(target, nemesis, workload, runs))
    return out


def _cell(target: str, nemesis: str, workload: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    verdicts = [r["verdict"] for r in runs]
    status = (
        "error"
        if "error" in verdicts
        else "fail"
        if False in verdicts
        else "missing"
        if "missing" in verdicts
        else "unknown"
        if any(v not in (True, False) for v in verdicts)
        else "pass"
    )
    values = [v for r in runs for v in r["failover_ms"]]
    kinds: dict[str, int] = {}
    for r in runs:
        for k, n in r["anomaly_kinds"].items():
            kinds[k] = kinds.get(k, 0) + n
    return {
        "key": RunItem(target, nemesis, workload, 0).key,
        "target": target,
        "nemesis": nemesis,
        "workload": workload,
        "status": status,
        "runs": runs,
        "anomalies": sum(r["anomalies"] for r in runs),
        "anomaly_kinds": kinds,
        "failover_ms": {
            "p50": percentile(values, 0.5),
            "p99": percentile(values, 0.99),
            "max": max(values) if values else None,
            "count": len(values),
        },
    }


def previous_summaries(
    store: Path, limit: int, exclude: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """The last ``limit`` nightly summaries already in the store, oldest first
    (``exclude``: tonight's folder, when a merge writes a night again)."""
    found = []
    for path in sorted((store / "nightly").glob("*/summary.json")):
        if path.parent.name == exclude:
            continue
        try:
            found.append((path.parent.name, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return found[-limit:] if limit > 0 else []


def summary_table(cells: list[dict[str, Any]], title: str = "nightly matrix") -> Table:
    """The terminal summary: one row per cell."""
    table = Table(title=title)
    for column in ("cell", "status", "seeds", "anomalies", "failover p50", "failover p99"):
        table.add_column(column)
    colour = {"pass": "green", "fail": "red", "error": "red", "missing": "red"}
    for c in cells:
        f = c["failover_ms"]
        table.add_row(
            escape(c["key"]),
            f"[{colour.get(c['status'], 'yellow')}]{c['status']}[/]",
            str(len(c["runs"])),
            str(c["anomalies"]),
            _ms(f["p50"]),
            _ms(f["p99"]),
        )
    return table


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
