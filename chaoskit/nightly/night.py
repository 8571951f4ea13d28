"""``chaoskit nightly MATRIX.toml``: run a matrix, then write a resilience report with trends.

A cell is one (target, nemesis, workload); it runs once per seed and passes when
every seed's run is valid. The report shows pass/fail per cell, the anomalies found,
failover p50/p99 per cell (pooled over its seeds), charts of each metric over the
previous nights in the same store, and what changed since the last night: new
failures, fixed cells and failover regressions. Exit status 1 if any cell failed
(an anomaly, or a run that could not be carried out), else 0.

Matrix file (TOML)::

    [matrix]
    targets   = ["raft", "bully"]            # required
    nemeses   = ["partition", "kill", "partition:mode=hang"]   # required, --nemesis syntax
    workloads = ["register"]                 # default ["none"]
    seeds     = [1, 2, 3]                    # required
    time_limit = 30                          # seconds per run, required
    nodes = 5                                # any other run setting (docs/cli.md), the
    bound_clients = 2                        # same for every cell, by its settings key

    [options]                                # optional: -o key=value for every run
    tick-ms = "5"

    [[exclude]]                              # optional: skip the cells that match all keys
    target = "bully"
    workload = "register"

    [trends]                                 # optional
    nights = 14                              # previous nights drawn
    regression_ratio = 1.25                  # failover p50/p99 worse by this factor ...
    regression_min_ms = 100                  # ... and by at least this much is a regression

Each run gets ``run_one(cell)`` with ``cell`` = ``{"target", "nemesis", "workload",
"seed", "time_limit", "nodes", "options"}``; it returns the run's directory. Written:
``<store>/nightly/<UTC time>/summary.json`` and ``report.html``.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from chaoskit.checkers.figures import percentile
from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.report._junit import JUNIT, write_junit
from chaoskit.report._model import failover_values, flat_anomalies, read_results
from chaoskit.report._nightly_page import render_nightly
from chaoskit.report._run_report import REPORT, write_run_report
from chaoskit.run.settings import MAPPING_KEYS, config_from_mapping
from chaoskit.store.files import read_toml
from chaoskit.store.rundir import write_json

RunOne = Callable[[dict[str, Any]], Path]
FAILED = ("fail", "error")
#: The axes of a matrix, and the run settings its cells share (keys of the settings
#: table, except those the axes set and the target options of [options]).
AXES = ("targets", "nemeses", "workloads", "seeds")
SHARED_SETTINGS = tuple(
    k for k in MAPPING_KEYS if k not in ("target", "nemesis", "workload", "seed", "options")
)
MATRIX_KEYS = (*AXES, *SHARED_SETTINGS)


@dataclass(frozen=True, kw_only=True)
class Matrix:
    """A parsed matrix file."""

    targets: list[str]
    nemeses: list[str]
    workloads: list[str]
    seeds: list[int]
    time_limit: float
    #: Run settings (``chaoskit.run.settings`` keys) shared by every cell.
    settings: dict[str, Any] = field(default_factory=dict)
    options: dict[str, str] = field(default_factory=dict)
    exclude: list[dict[str, str]] = field(default_factory=list)
    nights: int = 14
    regression_ratio: float = 1.25
    regression_min_ms: float = 100.0

    def cells(self) -> list[tuple[str, str, str]]:
        """Every (target, nemesis, workload) not excluded, in matrix order."""
        out = []
        for target, nemesis, workload in itertools.product(
            self.targets, self.nemeses, self.workloads
        ):
            cell = {"target": target, "nemesis": nemesis, "workload": workload}
            if not any(all(cell.get(k) == v for k, v in ex.items()) for ex in self.exclude):
                out.append((target, nemesis, workload))
        return out


def load_matrix(path: Path) -> Matrix:
    """Parse and validate a matrix file; a ``ConfigError`` naming what is wrong."""
    # A regular UTF-8 file of sane size and nesting (chaoskit/store/files.py).
    data = read_toml(Path(path), "matrix file")
    m = data.get("matrix")
    if not isinstance(m, dict):
        raise ConfigError(f"{path}: no [matrix] table")
    unknown = sorted(set(m) - set(MATRIX_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: [matrix] has unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(MATRIX_KEYS)}"
        )
    trends = data.get("trends", {})
    try:
        matrix = Matrix(
            targets=_names(m, "targets"),
            nemeses=_names(m, "nemeses"),
            workloads=_names(m, "workloads", ["none"]),
            seeds=[int(s) for s in _list(m, "seeds")],
            time_limit=float(m["time_limit"]),
            settings={k: v for k, v in m.items() if k in SHARED_SETTINGS},
            options={str(k): str(v) for k, v in data.get("options", {}).items()},
            exclude=[{str(k): str(v) for k, v in ex.items()} for ex in data.get("exclude", [])],
            nights=int(trends.get("nights", 14)),
            regression_ratio=float(trends.get("regression_ratio", 1.25)),
            regression_min_ms=float(trends.get("regression_min_ms", 100)),
        )
    except KeyError as exc:
        raise ConfigError(f"{path}: [matrix] needs {exc.args[0]}") from exc
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ConfigError(f"{path}: bad value in the matrix: {exc}") from exc
    if matrix.time_limit <= 0 or not matrix.seeds or not matrix.cells():
        raise ConfigError(f"{path}: the matrix has no runs (seeds, time_limit or excludes)")
    _check_cells(matrix, path)
    return matrix


def _check_cells(matrix: Matrix, path: Path) -> None:
    """Every cell's settings, checked as a run checks them, before the night starts: a
    ``time_limit = 1e308`` is refused now, not once per cell hours later."""
    for target, nemesis, workload in matrix.cells():
        for seed in matrix.seeds:
            values = cell_values(matrix, target, nemesis, workload, seed)
            where = f"{path}: cell {target} / {nemesis} / {workload} / seed {seed}"
            config_from_mapping(values, where=where).validate()


def cell_values(
    matrix: Matrix, target: str, nemesis: str, workload: str, seed: int
) -> dict[str, Any]:
    """The run settings of one cell and seed (``chaoskit.run.settings`` keys)."""
    return {
        **matrix.settings,
        "target": target,
        "nemesis": nemesis,
        "workload": workload,
        "seed": seed,
        "time_limit": matrix.time_limit,
        "options": dict(matrix.options),
    }


def _list(table: dict[str, Any], key: str, default: list[Any] | None = None) -> list[Any]:
    value = table.get(key, default)
    if value is None:
        raise KeyError(key)
    if not isinstance(value, list) or not value:
        raise ValueError(f"{key} must be a non-empty list")
    return value


def _names(table: dict[str, Any], key: str, default: list[str] | None = None) -> list[str]:
    return [str(v) for v in _list(table, key, default)]


def run_nightly(
    matrix_path: Path,
    store: Path,
    run_one: RunOne,
    *,
    console: Console | None = None,
    now: datetime | None = None,
) -> int:
    """Run every cell of the matrix, write the nightly report, return the exit status."""
    matrix = load_matrix(matrix_path)
    console = console or Console()
    started = now or datetime.now(UTC)
    out_dir = Path(store) / "nightly" / started.strftime("%Y%m%dT%H%M%S.%fZ")
    cells = _run_all(matrix, Path(store), run_one, console)
    status = (
        "fail"
        if any(c["status"] in FAILED for c in cells)
        else "unknown"
        if any(c["status"] == "unknown" for c in cells)
        else "pass"
    )
    summary: dict[str, Any] = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "matrix_file": str(matrix_path),
        "status": status,
        "cells": cells,
        "exit_status": 1 if status == "fail" else 0,
    }
    previous = previous_summaries(Path(store), limit=matrix.nights)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / "summary.json", summary)
    page = render_nightly(
        summary,
        previous,
        out_dir,
        Path(matrix_path).read_text(encoding="utf-8"),
        ratio=matrix.regression_ratio,
        min_ms=matrix.regression_min_ms,
    )
    tmp = out_dir / (REPORT + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, out_dir / REPORT)
    console.print(summary_table(cells))
    console.print(f"nightly report: {out_dir / REPORT}", markup=False, highlight=False)
    return int(summary["exit_status"])


def _run_all(
    matrix: Matrix, store: Path, run_one: RunOne, console: Console
) -> list[dict[str, Any]]:
    cells = matrix.cells()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    out = []
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("nightly", total=len(cells) * len(matrix.seeds))
        for target, nemesis, workload in cells:
            runs = []
            for seed in matrix.seeds:
                what = escape(f"{target} {nemesis} {workload} seed {seed}")  # names, not markup
                progress.update(task, description=what)
                cell = {
                    **cell_values(matrix, target, nemesis, workload, seed),
                    "store": str(store),
                }
                runs.append(_one(cell, store, run_one))
                progress.advance(task)
            out.append(_cell(target, nemesis, workload, runs))
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
    }
    try:
        run_dir = Path(run_one(cell))
        results = read_results(run_dir)
        _ensure_reports(run_dir)
    except ChaoskitError as exc:
        entry["error"] = str(exc)
        return entry
    except Exception as exc:  # noqa: BLE001 (a nightly records a broken run, goes on)
        entry["error"] = f"{type(exc).__name__}: {exc}"
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


def _cell(target: str, nemesis: str, workload: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    verdicts = [r["verdict"] for r in runs]
    status = (
        "error"
        if "error" in verdicts
        else "fail"
        if False in verdicts
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
        "key": f"{target} / {nemesis} / {workload}",
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


def previous_summaries(store: Path, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """The last ``limit`` nightly summaries already in the store, oldest first."""
    found = []
    for path in sorted((store / "nightly").glob("*/summary.json")):
        try:
            found.append((path.parent.name, json.loads(path.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return found[-limit:] if limit > 0 else []


def summary_table(cells: list[dict[str, Any]]) -> Table:
    """The terminal summary: one row per cell."""
    table = Table(title="nightly matrix")
    for column in ("cell", "status", "seeds", "anomalies", "failover p50", "failover p99"):
        table.add_column(column)
    colour = {"pass": "green", "fail": "red", "error": "red", "unknown": "yellow"}
    for c in cells:
        f = c["failover_ms"]
        table.add_row(
            escape(c["key"]),
            f"[{colour[c['status']]}]{c['status']}[/]",
            str(len(c["runs"])),
            str(c["anomalies"]),
            _ms(f["p50"]),
            _ms(f["p99"]),
        )
    return table


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"
