"""The nightly matrix file: its parsing, its cells and the runs they make.

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

A cell is one (target, nemesis, workload); a run is one cell with one seed
(``RunItem``). ``Matrix.items()`` lists every run in matrix order: the order a
single-machine night runs them in, and the order a shard plan numbers them by.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from chaoskit.errors import ConfigError
from chaoskit.run.settings import MAPPING_KEYS, config_from_mapping
from chaoskit.store.files import parse_toml, read_text

#: The axes of a matrix, and the run settings its cells share (keys of the settings
#: table, except those the axes set and the target options of [options]).
AXES = ("targets", "nemeses", "workloads", "seeds")
SHARED_SETTINGS = tuple(
    k for k in MAPPING_KEYS if k not in ("target", "nemesis", "workload", "seed", "options")
)
MATRIX_KEYS = (*AXES, *SHARED_SETTINGS)


class RunItem(NamedTuple):
    """One run of a night: a cell and a seed."""

    target: str
    nemesis: str
    workload: str
    seed: int

    @property
    def key(self) -> str:
        """The cell's key, as summaries and reports name it."""
        return f"{self.target} / {self.nemesis} / {self.workload}"


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

    def items(self) -> list[RunItem]:
        """Every run of the night: each cell once per seed, in matrix order."""
        return [RunItem(*cell, seed) for cell in self.cells() for seed in self.seeds]

    def run_settings(self, item: RunItem, store: Path) -> dict[str, Any]:
        """The ``run_one`` argument of one run: run settings by key, and the store."""
        return {
            **self.settings,
            "target": item.target,
            "nemesis": item.nemesis,
            "workload": item.workload,
            "seed": item.seed,
            "time_limit": self.time_limit,
            "options": dict(self.options),
            "store": str(store),
        }


def load_matrix(path: Path) -> Matrix:
    """Parse and validate a matrix file; a ``ConfigError`` naming what is wrong."""
    # A regular UTF-8 file of sane size (chaoskit/store/files.py): never /dev/zero.
    return parse_matrix(read_text(Path(path), "matrix file"), str(path))


def parse_matrix(text: str, where: str) -> Matrix:
    """Parse a matrix file's text; ``where`` names it in errors."""
    data = parse_toml(text, where)  # bad TOML, absurd nesting: one line
    m = data.get("matrix")
    if not isinstance(m, dict):
        raise ConfigError(f"{where}: no [matrix] table")
    unknown = sorted(set(m) - set(MATRIX_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: [matrix] has unknown key(s) {', '.join(unknown)}; "
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
        raise ConfigError(f"{where}: [matrix] needs {exc.args[0]}") from exc
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise ConfigError(f"{where}: bad value in the matrix: {exc}") from exc
    if matrix.time_limit <= 0 or not matrix.seeds or not matrix.cells():
        raise ConfigError(f"{where}: the matrix has no runs (seeds, time_limit or excludes)")
    _check_cells(matrix, where)
    return matrix


def _check_cells(matrix: Matrix, where: str) -> None:
    """Every run's settings, checked as a run checks them, before the night starts: a
    ``time_limit = 1e308`` is refused now, not once per cell hours later."""
    for item in matrix.items():
        values = {k: v for k, v in matrix.run_settings(item, Path(".")).items() if k != "store"}
        cell = f"{where}: cell {item.target} / {item.nemesis} / {item.workload} / seed {item.seed}"
        config_from_mapping(values, where=cell).validate()


def _list(table: dict[str, Any], key: str, default: list[Any] | None = None) -> list[Any]:
    value = table.get(key, default)
    if value is None:
        raise KeyError(key)
    if not isinstance(value, list) or not value:
        raise ValueError(f"{key} must be a non-empty list")
    return value


def _names(table: dict[str, Any], key: str, default: list[str] | None = None) -> list[str]:
    return [str(v) for v in _list(table, key, default)]
