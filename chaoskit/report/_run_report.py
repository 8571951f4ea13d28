"""``report.html`` for one run: timeline, latency, failover figures, verdicts, repeat command.

The page is one self-contained file (inline CSS and SVG, no script, no network), so it
opens from disk, from a CI artifact or from ``chaoskit serve`` alike. It reads only the
run directory's files.

    >>> write_run_report(Path("runs/latest"))
    PosixPath('runs/raft-partition/20260101T000000.000000Z/report.html')
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from chaoskit.checkers.figures import headline
from chaoskit.report import _charts as charts
from chaoskit.report._downsample import DEFAULT_BUDGET, downsample
from chaoskit.report._html import (
    badge,
    esc,
    key_values,
    millis,
    render,
    seconds,
    table,
    verdict_class,
)
from chaoskit.report._model import RunView, failover_values, load_view, sampling_text
from chaoskit.report._shrink_section import shrink_section

REPORT = "report.html"
_STREAM_FILES = (
    "config.json",
    "results.json",
    "history.jsonl",
    "observations.jsonl",
    "nemesis.jsonl",
    "schedule.json",
    "tape.json",
    "shrunk.toml",
    "shrink.json",
    "replay.json",
    "junit.xml",
)


def write_run_report(run_dir: Path, *, budget: int = DEFAULT_BUDGET) -> Path:
    """Render ``run_dir/report.html`` from the run's files and return its path."""
    view = load_view(Path(run_dir))
    path = view.run_dir / REPORT
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_run_report(view, budget=budget), encoding="utf-8")
    os.replace(tmp, path)
    return path


def render_run_report(view: RunView, *, budget: int = DEFAULT_BUDGET) -> str:
    """The whole page as a string."""
    config = view.config
    workload = config.get("workload") or "none"
    title = f"{config.get('target', '?')} / {view.nemesis_label} / {workload}"
    sampling = view.checker_metric("split-brain", "sampling_interval_ms") or view.checker_metric(
        "stalled-election", "sampling_interval_ms"
    )
    verdict_badge = badge(view.verdict, element_id="verdict")
    return render(
        "run.html",
        page_title=f"chaoskit: {esc(title)}",
        heading=f"{esc(title)} {verdict_badge}",
        subtitle=esc(_subtitle(view)),
        summary=_summary(view),
        command=esc(config.get("command", "(not recorded)")),
        checkers=_checkers(view),
        sampling=esc(sampling_text(sampling)),
        timeline=charts.timeline_svg(
            view.nodes, view.roles, view.faults, view.anomalies, view.end_time
        ),
        **_latency(view, budget),
        failover=_failover(view),
        anomalies=_anomalies(view),
        faults=_faults(view),
        shrinking=shrink_section(view.run_dir),
        files=_files(view),
    )


def _subtitle(view: RunView) -> str:
    parts = [f"started {view.config.get('started_at', '?')}", str(view.run_dir)]
    if view.torn or (view.results or {}).get("incomplete"):
        parts.append("INCOMPLETE: the run was cut short")
    stopped = (view.results or {}).get("stopped_early")
    if stopped:  # --fail-fast ended the main phase at the first anomaly found live
        kind = (stopped.get("anomaly") or {}).get("kind", "an anomaly")
        parts.append(f"STOPPED EARLY at {seconds(stopped.get('at', 0))} (--fail-fast): {kind}")
    return " · ".join(parts)


def _summary(view: RunView) -> str:
    c = view.config
    deadline = c.get("election_deadline")
    items = [
        ("target", esc(c.get("target", "?"))),
        ("nemesis", esc(view.nemesis_label)),
        ("workload", esc(c.get("workload") or "none")),
        ("nodes", esc(", ".join(view.nodes))),
        ("seed", f'<code id="seed">{esc(c.get("seed", "?"))}</code>'),
        ("time limit", esc(f"{c.get('time_limit', '?')} s")),
        ("policy", esc(c.get("policy") or "target default")),
        ("election deadline", esc(f"{deadline} s" if deadline is not None else "target default")),
        ("duration", esc(seconds(view.end_time))),
        ("client ops", esc(f"{len(view.ops)} completed, {view.open_ops} open at the end")),
    ]
    return key_values(items)


def _metric_text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_metric_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return f"[{len(value)} values]"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _checkers(view: RunView) -> str:
    """Per checker: verdict, anomalies and the headline figures; every metric one click
    away in a ``details`` element."""
    if view.results is None:
        return "<p>Not checked yet: run <code>chaoskit check RUN_DIR</code>.</p>"
    rows, classes = [], []
    for name, result in (view.results.get("checkers") or {}).items():
        valid = result.get("valid", "unknown")
        metrics = result.get("metrics") or {}
        figures = "<br>".join(
            f'<span class="figure">{esc(label)}: <b>{esc(text)}</b></span>'
            for label, text in headline(metrics)
        )
        every = "<br>".join(f"{esc(k)}: {esc(_metric_text(v))}" for k, v in metrics.items())
        rows.append(
            [
                esc(name),
                badge(valid),
                esc(len(result.get("anomalies") or [])),
                figures,
                esc(result.get("error") or ""),
                f"<details><summary>{len(metrics)} metrics</summary>{every}</details>"
                if metrics
                else "",
            ]
        )
        classes.append(f"r-{verdict_class(valid)}")
    return table(
        ["checker", "verdict", "anomalies", "figures", "error", "all metrics"],
        rows,
        row_classes=classes,
        attrs='id="checker-table"',
    )


def _latency(view: RunView, budget: int) -> dict[str, str]:
    shown = downsample(view.ops, budget)
    note = f"{len(view.ops)} completed ops"
    if len(shown) < len(view.ops):
        note += (
            f", {len(shown)} drawn (each outcome keeps its fastest and slowest op per "
            "time slice; faults and anomalies are never thinned)"
        )
    if view.open_ops:
        note += f"; {view.open_ops} still open when the run ended (not drawn)"
    svg = charts.latency_svg(shown, view.faults, view.anomalies, view.end_time)
    return {"latency": svg, "latency_note": esc(note + ".")}


def _failover(view: RunView) -> str:
    figures = view.checker_metric("stalled-election", "failover_ms")
    stalls = [a for a in view.anomalies if a.get("kind") == "stalled-election"]
    if not isinstance(figures, dict) or not figures:
        return "<p>Not measured: this run has no stalled-election figures.</p>"
    deadline = view.config.get("election_deadline")
    deadline_ms = deadline * 1000 if isinstance(deadline, int | float) else None
    metrics = ((view.results or {}).get("checkers") or {})["stalled-election"]["metrics"]
    values = failover_values(metrics)
    unresolved = metrics.get("failover_unresolved")
    items = [
        ("failovers", esc(len(values))),
        ("no leader by the end", esc(unresolved if unresolved is not None else "n/a")),
        ("p50", esc(millis(figures.get("p50")))),
        ("p99", esc(millis(figures.get("p99")))),
        ("max", esc(millis(figures.get("max")))),
        ("deadline", esc(millis(deadline_ms))),
        ("stalled elections", esc(len(stalls))),
    ]
    out = f'<div id="failover-figures">{key_values(items)}</div>'
    if values:
        out += charts.failover_svg(
            values, _num(figures.get("p50")), _num(figures.get("p99")), deadline_ms
        )
    return out


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _anomalies(view: RunView) -> str:
    if not view.anomalies:
        return "<p>None found.</p>"
    rows = []
    for a in view.anomalies:
        kind = str(a.get("kind", "?"))
        start, end = a.get("start"), a.get("end")
        window = f"{seconds(start)} - {seconds(end)}" if start is not None else "whole run"
        length = (
            seconds(end - start)
            if isinstance(start, int | float) and isinstance(end, int | float)
            else ""
        )
        swatch = f'<span class="swatch" style="background:{charts.anomaly_colour(kind)}"></span>'
        rows.append(
            [
                esc(a.get("checker", "")),
                swatch + f'<span class="anomaly-kind">{esc(kind)}</span>',
                esc(window),
                esc(length),
                esc(", ".join(map(str, a.get("nodes") or []))),
                esc(", ".join(map(str, a.get("terms") or []))),
                esc(_faults_told(a)),
                esc(a.get("message", "")),
            ]
        )
    return table(
        ["checker", "kind", "window", "length", "nodes", "terms", "faults", "message"],
        rows,
        attrs='id="anomaly-table"',
    )


def _faults_told(anomaly: dict[str, Any]) -> str:
    """The faults active in an anomaly's window, then those healed (or beginning)
    right before (or after) it: ``kill#1; after partition#2 (healed 212 ms before)``."""
    parts = [", ".join(map(str, anomaly.get("faults") or []))]
    for f in anomaly.get("after_faults") or []:
        parts.append(f"after {f.get('fault')} (healed {millis(f.get('healed_before_ms'))} before)")
    for f in anomaly.get("before_faults") or []:
        parts.append(f"before {f.get('fault')} (began {millis(f.get('began_after_ms'))} after)")
    return "; ".join(p for p in parts if p)


def _faults(view: RunView) -> str:
    if not view.faults:
        return "<p>No faults were injected.</p>"
    rows = [
        [
            esc(f.id),
            esc(f.fault),
            esc(seconds(f.start)),
            esc(seconds(f.end) if f.healed else "never healed"),
            esc(seconds(f.end - f.start)),
            esc(", ".join(f.down)),
            f"<code>{esc(json.dumps(f.detail))}</code>",
        ]
        for f in view.faults
    ]
    return table(["id", "fault", "start", "stop", "length", "down", "detail"], rows)


def _files(view: RunView) -> str:
    names = [n for n in _STREAM_FILES if (view.run_dir / n).exists()]
    logs = view.run_dir / "logs"
    if logs.is_dir():
        names += [f"logs/{p.name}" for p in sorted(logs.iterdir()) if p.is_file()]
    return "<ul>" + "".join(f'<li><a href="{esc(n)}">{esc(n)}</a></li>' for n in names) + "</ul>"
