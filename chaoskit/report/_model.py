"""Read a stored run into the shapes a report draws: role intervals, fault spans, ops.

The report reads only the files of the run directory, so a run cut short, or copied
from another machine, renders the same. Samples are folded into intervals (lossless:
consecutive samples with the same answer are one interval); client ops are paired
invoke to completion per process, as Jepsen does.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoskit.core.records import HISTORY, NEMESIS, OBSERVATIONS, Record
from chaoskit.errors import ConfigError
from chaoskit.store.rundir import RESULTS, resolve_run_dir
from chaoskit.store.rundir import read_config as rundir_config
from chaoskit.store.streams import read_jsonl


@dataclass(frozen=True)
class Interval:
    """``[start, end)`` in run nanoseconds with what held during it."""

    start: int
    end: int
    label: str
    term: int | None = None


@dataclass(frozen=True)
class FaultSpan:
    """One fault from start to stop (or to the end of the run when never stopped)."""

    id: Any
    fault: str
    start: int
    end: int
    detail: dict[str, Any]
    down: tuple[str, ...]
    healed: bool


@dataclass(frozen=True)
class OpPoint:
    """A completed client op: when it was invoked, how long it took, what it came to."""

    time: int
    latency: int
    outcome: str
    f: str


@dataclass
class RunView:
    """Everything the per-run report shows, derived from the run's files only."""

    run_dir: Path
    config: dict[str, Any]
    results: dict[str, Any] | None
    nodes: list[str]
    end_time: int
    roles: dict[str, list[Interval]]
    faults: list[FaultSpan]
    ops: list[OpPoint]
    open_ops: int
    torn: bool
    anomalies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def verdict(self) -> Any:
        """The merged verdict, or ``"unchecked"`` when there is no ``results.json``."""
        return self.results.get("valid", "unknown") if self.results else "unchecked"

    @property
    def nemesis_label(self) -> str:
        return nemesis_label(self.config)

    def checker_metric(self, checker: str, name: str) -> Any:
        """A metric of one checker, or None when that checker or metric is absent."""
        checkers = (self.results or {}).get("checkers", {})
        return checkers.get(checker, {}).get("metrics", {}).get(name)


def failover_values(metrics: dict[str, Any]) -> list[float]:
    """Each failover's time to a new leader (ms) from stalled-election metrics.

    The checker lists its events under ``failovers`` (each with ``failover_ms``,
    None when no leader came); an older shape put them in ``failover_ms.values``.
    """
    figures = metrics.get("failover_ms")
    raw = figures.get("values") if isinstance(figures, dict) else None
    if not raw:
        events = metrics.get("failovers") or []
        raw = [e.get("failover_ms") for e in events if isinstance(e, dict)]
    return [float(v) for v in raw or [] if isinstance(v, int | float)]


def sampling_text(value: Any) -> str:
    """The observation interval for a reader: a number, or the checkers' p50/p99/max dict."""
    if isinstance(value, int | float):
        return f"{value:g} ms"
    if isinstance(value, dict) and isinstance(value.get("p50"), int | float):
        return f"{value['p50']:g} ms (p99 {value.get('p99')} ms, max {value.get('max')} ms)"
    return "an interval this run did not record"


def nemesis_label(config: dict[str, Any]) -> str:
    """``kill+partition``: the nemesis list as the store names it."""
    raw = config.get("nemesis", config.get("nemeses", []))
    items = [raw] if isinstance(raw, str) else list(raw or [])
    names = [str(item).split(":", 1)[0] for item in items]
    return "+".join(names) or "none"


def read_config(run_dir: Path) -> dict[str, Any]:
    """``config.json`` as a dict; a ``ConfigError`` when it is missing, not JSON, not an
    object or has a field of the wrong type (``chaoskit.store.rundir.read_config``)."""
    return rundir_config(run_dir)


def read_results(run_dir: Path) -> dict[str, Any] | None:
    """``results.json``, or None for a run never checked; a ``ConfigError`` if corrupt."""
    path = run_dir / RESULTS
    if not path.exists():
        return None
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    if not isinstance(results, dict):
        raise ConfigError(f"{path} is not a JSON object but a {type(results).__name__}")
    return results


def load_view(run_dir: Path) -> RunView:
    """Read a run directory (or a store, for its latest run) into a ``RunView``."""
    run_dir = resolve_run_dir(run_dir)
    config = read_config(run_dir)
    results = read_results(run_dir)
    try:
        streams = {n: read_jsonl(run_dir / n) for n in (HISTORY, OBSERVATIONS, NEMESIS)}
    except ValueError as exc:
        raise ConfigError(f"cannot read the run in {run_dir}: {exc}") from exc
    observations = streams[OBSERVATIONS].records
    history = streams[HISTORY].records
    nemesis = streams[NEMESIS].records
    end = _end_time(config, observations, history, nemesis)
    nodes = _node_ids(config, observations)
    ops, open_ops = pair_ops(history)
    return RunView(
        run_dir=run_dir,
        config=config,
        results=results,
        nodes=nodes,
        end_time=end,
        roles=role_intervals(observations, nodes, end),
        faults=fault_spans(nemesis, end),
        ops=ops,
        open_ops=open_ops,
        torn=any(s.torn for s in streams.values()),
        anomalies=flat_anomalies(results),
    )


def _end_time(config: dict[str, Any], *streams: list[Record]) -> int:
    """The run's last instant: ``end_time`` from the config, else the last record."""
    times = (r.get("time") for s in streams for r in s)
    finite = (int(t) for t in times if isinstance(t, int | float) and math.isfinite(t))
    last = max(finite, default=0)
    configured = config.get("end_time")
    return max(int(configured), last) if isinstance(configured, int | float) else last


def _node_ids(config: dict[str, Any], observations: list[Record]) -> list[str]:
    """Node ids from the config (a list of ids, or a count), completed by the samples."""
    raw = config.get("nodes")
    ids = [str(n) for n in raw] if isinstance(raw, list) else []
    seen = sorted({str(r["node"]) for r in observations if "node" in r})
    return ids + [n for n in seen if n not in ids]


def role_intervals(
    observations: list[Record], nodes: list[str], end: int
) -> dict[str, list[Interval]]:
    """Fold each node's samples into intervals of one role (and term, for leaders)."""
    out: dict[str, list[Interval]] = {n: [] for n in nodes}
    per_node: dict[str, list[Record]] = {n: [] for n in nodes}
    for rec in observations:
        per_node.setdefault(str(rec.get("node")), []).append(rec)
    for node, recs in per_node.items():
        recs.sort(key=lambda r: int(r.get("time", 0)))
        out[node] = _fold(recs, end)
    return out


def _fold(recs: list[Record], end: int) -> list[Interval]:
    intervals: list[Interval] = []
    for rec in recs:
        t = int(rec.get("time", 0))
        role = str(rec.get("role", "down"))
        term = rec.get("term") if role == "leader" else None
        if intervals and intervals[-1].label == role and intervals[-1].term == term:
            continue
        if intervals:
            prev = intervals[-1]
            intervals[-1] = Interval(prev.start, t, prev.label, prev.term)
        intervals.append(Interval(t, t, role, term))
    if intervals:
        last = intervals[-1]
        intervals[-1] = Interval(last.start, max(end, last.start), last.label, last.term)
    return intervals


def fault_spans(nemesis: list[Record], end: int) -> list[FaultSpan]:
    """Pair each fault's start with its stop by ``id`` (else by name, first in first out)."""
    open_: dict[Any, Record] = {}
    spans: list[FaultSpan] = []
    for rec in sorted(nemesis, key=lambda r: int(r.get("time", 0))):
        key = rec.get("id", rec.get("fault"))
        if rec.get("type") == "start":
            open_[key] = rec
        elif rec.get("type") == "stop" and key in open_:
            spans.append(_span(open_.pop(key), int(rec.get("time", 0)), True))
    spans += [_span(rec, end, False) for rec in open_.values()]
    return sorted(spans, key=lambda s: s.start)


def _span(start: Record, stop: int, healed: bool) -> FaultSpan:
    detail = start.get("detail")
    return FaultSpan(
        id=start.get("id"),
        fault=str(start.get("fault", "fault")),
        start=int(start.get("time", 0)),
        end=stop,
        detail=detail if isinstance(detail, dict) else {},
        down=tuple(str(n) for n in start.get("down") or []),
        healed=healed,
    )


def pair_ops(history: list[Record]) -> tuple[list[OpPoint], int]:
    """Pair invocations with completions per process; count ops still open at the end."""
    pending: dict[Any, Record] = {}
    points: list[OpPoint] = []
    for rec in history:
        process = rec.get("process")
        if rec.get("type") == "invoke":
            pending[process] = rec
            continue
        invoke = pending.pop(process, None)
        if invoke is None:
            continue
        t0 = int(invoke.get("time", 0))
        points.append(
            OpPoint(
                time=t0,
                latency=max(int(rec.get("time", t0)) - t0, 0),
                outcome=str(rec.get("type")),
                f=str(invoke.get("f", "?")),
            )
        )
    return points, len(pending)


def flat_anomalies(results: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Every checker's anomalies in one list, each tagged with its ``checker``."""
    if not results:
        return []
    out: list[dict[str, Any]] = []
    for name, result in (results.get("checkers") or {}).items():
        for anomaly in result.get("anomalies") or []:
            out.append({"checker": name, **anomaly})
    return out
