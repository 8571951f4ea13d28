"""The nightly resilience report page: changes since last night, the matrix, trends;
and, for a night merged from shards, which shards came back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chaoskit.report import _charts as charts
from chaoskit.report._html import badge, esc, millis, render, table, verdict_class
from chaoskit.report._trends import Changes, changes, night_series

_TRENDS = (
    ("cells", "Cells passing and failing", "cells"),
    ("anomalies", "Anomalies found", "anomalies"),
    ("failover p50", "Failover p50 per cell", "ms"),
    ("failover p99", "Failover p99 per cell", "ms"),
)


def render_nightly(
    summary: dict[str, Any],
    previous: list[tuple[str, dict[str, Any]]],
    out_dir: Path,
    matrix_text: str,
    *,
    ratio: float,
    min_ms: float,
) -> str:
    """The whole nightly page; ``previous`` are earlier nights, oldest first."""
    tonight = out_dir.name
    night = f"night {summary['night']} · " if summary.get("night") else ""
    digest = str(summary.get("matrix_digest") or "")[:12]
    diff = changes(summary, previous[-1] if previous else None, ratio=ratio, min_ms=min_ms)
    status_badge = badge(summary["status"], element_id="verdict")
    return render(
        "nightly.html",
        page_title=f"chaoskit nightly: {esc(tonight)}",
        heading=f"Resilience report {esc(tonight)} {status_badge}",
        subtitle=esc(
            f"{night}started {summary['started_at']} · matrix {summary['matrix_file']}"
            + (f" ({digest})" if digest else "")
            + f" · {len(summary['cells'])} cells · exit status {summary['exit_status']}"
        ),
        shards=_shards(summary),
        changes=_changes(diff, ratio, min_ms),
        cells=_cells(summary["cells"]),
        trends=_trends([*previous, (tonight, summary)]),
        matrix=esc(matrix_text),
    )


def _changes(diff: Changes, ratio: float, min_ms: float) -> str:
    if diff.previous is None:
        return "<p>First night in this store: nothing to compare with.</p>"
    parts = [
        f'<p class="note">Compared with the night of {esc(diff.previous)}. A failover '
        f"regression is a p50 or p99 worse by a factor above {ratio:g} and by at least "
        f"{min_ms:g} ms.</p>"
    ]
    lists = (
        ("new-failures", "New failures", diff.new_failures),
        ("fixed", "Fixed", diff.fixed),
        ("new-cells", "New cells", diff.new_cells),
    )
    for ident, title, items in lists:
        body = "".join(f"<li>{esc(k)}</li>" for k in items) or "<li>none</li>"
        parts.append(f'<h3>{title}</h3><ul id="{ident}">{body}</ul>')
    rows = [
        [esc(k), esc(m), esc(millis(a)), esc(millis(b)), esc(f"x{b / a:.2f}" if a else "")]
        for k, m, a, b in diff.regressions
    ]
    parts.append(
        "<h3>Failover regressions</h3>"
        + (
            table(
                ["cell", "metric", "last night", "tonight", "change"],
                rows,
                attrs='id="regressions"',
            )
            if rows
            else '<p id="regressions">none</p>'
        )
    )
    return "".join(parts)


def _run_link(run: dict[str, Any]) -> str:
    label = f"seed {run['seed']}"
    if not run.get("run_dir"):
        verdict = run.get("verdict", "error")
        return badge(verdict, label) + f' <span class="note">{esc(run.get("error", ""))}</span>'
    path = str(run["run_dir"])
    href = f"file://{path}/report.html" if path.startswith("/") else f"../../{path}/report.html"
    return f'<a href="{esc(href)}">{badge(run["verdict"], label)}</a>'


def _cells(cells: list[dict[str, Any]]) -> str:
    rows = []
    for c in cells:
        kinds = ", ".join(f"{k} x{n}" for k, n in c["anomaly_kinds"].items())
        f = c["failover_ms"]
        rows.append(
            [
                esc(c["key"]),
                badge(c["status"], c["status"]),
                " ".join(_run_link(r) for r in c["runs"]),
                esc(c["anomalies"])
                + (f" <span class='note'>({esc(kinds)})</span>" if kinds else ""),
                esc(millis(f["p50"])),
                esc(millis(f["p99"])),
                esc(millis(f["max"])),
            ]
        )
    return table(
        ["cell", "status", "runs", "anomalies", "failover p50", "failover p99", "failover max"],
        rows,
        attrs='id="cell-table"',
        row_classes=[f"r-{verdict_class(c['status'])}" for c in cells],
    )


def _trends(nights: list[tuple[str, dict[str, Any]]]) -> str:
    series = night_series(nights)
    names = [n for n, _ in nights]
    out = [f'<p class="note">{len(nights)} nights, oldest first.</p>']
    for metric, title, unit in _TRENDS:
        data = series[metric]
        if not any(v is not None for values in data.values() for v in values):
            out.append(f"<p>{esc(title)}: no figures yet.</p>")
            continue
        salt = "trend-" + metric.replace(" ", "-")
        out.append(charts.trend_svg(salt, title, names, data, unit))
    return "".join(out)


def _shards(summary: dict[str, Any]) -> str:
    """A merged night's shards: each one's status, runs and times; empty otherwise."""
    rows = summary.get("shards")
    if not rows:
        return ""
    bad = [r for r in rows if r["status"] != "done"]
    lead = (
        '<p id="shards-missing">Not a pass: '
        + esc(", ".join(f"shard {r['index']}/{r['count']} {r['status']}" for r in bad))
        + ". Runs they did not report are <em>missing</em> in their cells.</p>"
        if bad
        else f"<p>All {len(rows)} shards finished.</p>"
    )
    table_rows = [
        [
            esc(f"{r['index']}/{r['count']}"),
            badge("pass" if r["status"] == "done" else "missing", r["status"]),
            esc(f"{r['runs']} of {r['assigned']}" if r.get("assigned") is not None else r["runs"]),
            esc(f"{r['expected_s']:.0f} s" if r.get("expected_s") is not None else ""),
            esc(r.get("host") or ""),
            esc(r.get("started_at") or ""),
            esc(r.get("finished_at") or ""),
        ]
        for r in rows
    ]
    warnings = "".join(f"<li>{esc(w)}</li>" for w in summary.get("warnings") or [])
    return (
        '<section id="shards"><h2>Shards</h2>'
        + lead
        + table(
            ["shard", "status", "runs", "expected", "host", "started", "finished"],
            table_rows,
            attrs='id="shard-table"',
        )
        + (f'<ul id="shard-warnings">{warnings}</ul>' if warnings else "")
        + "</section>"
    )
