"""The report's "Replay and shrinking" section, from ``shrink.json`` and ``replay.json``.

``chaoskit shrink`` and ``chaoskit replay`` write their findings into the run they
start from; the run's page then shows the shrunk schedule, its reproduction rate, the
command to run it, and every candidate tried with its re-runs (+ reproduced, - not).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chaoskit.report._html import esc, key_values, table

SHRINK = "shrink.json"
REPLAY = "replay.json"


def shrink_section(run_dir: Path) -> str:
    """The section's HTML; a line saying how to get it when neither file is there."""
    parts = [_replay(_read(run_dir / REPLAY)), _shrink(_read(run_dir / SHRINK))]
    shown = [p for p in parts if p]
    if not shown:
        return (
            "<p>Not shrunk: <code>chaoskit shrink RUN_DIR</code> finds the smallest "
            "schedule that fails the same way; <code>chaoskit replay RUN_DIR</code> "
            "re-runs this one.</p>"
        )
    return "".join(shown)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _replay(data: dict[str, Any] | None) -> str:
    if data is None:
        return ""
    items = [
        ("replays", esc(data.get("times"))),
        ("reproduced", esc(f"{data.get('reproduced')} ({data.get('kind') or 'any anomaly'})")),
    ]
    return f'<h3>Replay</h3><div id="replay">{key_values(items)}</div>'


def _shrink(data: dict[str, Any] | None) -> str:
    if data is None:
        return ""
    original, shrunk = data.get("original") or {}, data.get("shrunk") or {}
    rate = f"{data.get('reproduced')}/{data.get('confirm_runs')}"
    items = [
        ("anomaly kept", esc(data.get("kind"))),
        ("faults", esc(f"{original.get('events')} -> {shrunk.get('events')}")),
        ("shrunk schedule", f"<code>{esc(shrunk.get('faults'))}</code>"),
        ("reproduced", esc(rate)),
        ("re-runs", esc(f"{data.get('reruns_total')} of a budget of {data.get('budget')}")),
        ("wall time", esc(f"{data.get('wall_s')} s")),
    ]
    out = f'<h3>Shrinking</h3><div id="shrink-summary">{key_values(items)}</div>'
    if data.get("command"):
        out += (
            f'<p>Run the shrunk scenario:</p><pre id="shrunk-command">{esc(data["command"])}</pre>'
        )
    rows = [
        [
            esc(t.get("index")),
            esc(t.get("change")),
            esc(t.get("events")),
            esc("".join("+" if r.get("reproduced") else "-" for r in t.get("runs") or [])),
            "kept" if t.get("accepted") else "dropped",
        ]
        for t in data.get("trials") or []
    ]
    return out + table(
        ["#", "candidate", "faults", "re-runs", "outcome"], rows, attrs='id="shrink-steps"'
    )
