"""The terminal summary of a run: verdict per checker with its headline figures
(``checkers.figures.headline``: longest overlap, failover p99, operations checked,
share lost), anomalies, where it is stored; every metric on request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chaoskit.checkers.figures import headline
from chaoskit.run.result import stopped_text

_VERDICT = {True: "[green]valid[/green]", False: "[red]INVALID[/red]"}
MAX_ANOMALIES_SHOWN = 8


def verdict_text(valid: Any) -> str:
    return (
        _VERDICT.get(valid, "[yellow]unknown[/yellow]")
        if isinstance(valid, bool)
        else ("[yellow]unknown[/yellow]")
    )


def print_summary(
    console: Console,
    run_dir: Path,
    results: dict[str, Any],
    *,
    seed: int | None = None,
    command: str | None = None,
    all_metrics: bool = False,
) -> None:
    table = Table(title="checks", show_header=True, header_style="bold")
    table.add_column("checker")
    table.add_column("verdict")
    table.add_column("anomalies", justify="right")
    table.add_column("figures")
    for name, res in results.get("checkers", {}).items():
        table.add_row(
            name,
            verdict_text(res.get("valid")),
            str(len(res.get("anomalies", []))),
            escape(
                _figures(res.get("metrics", {}))
                + (f" error: {res['error']}" if res.get("error") else "")
            ),
        )
    console.print(table)
    if all_metrics:
        for name, res in results.get("checkers", {}).items():
            console.print(f"[bold]{name}[/bold] metrics:")
            console.print_json(data=res.get("metrics", {}))
    shown = 0
    for name, res in results.get("checkers", {}).items():
        for anomaly in res.get("anomalies", []):
            if shown < MAX_ANOMALIES_SHOWN:
                # Messages quote node names and values from the run: never markup.
                kind, message = escape(str(anomaly.get("kind", name))), anomaly.get("message", "")
                console.print(f"  [red]{kind}[/red] {escape(str(message))}", highlight=False)
            shown += 1
    if shown > MAX_ANOMALIES_SHOWN:
        console.print(f"  ... and {shown - MAX_ANOMALIES_SHOWN} more in results.json")
    stopped = results.get("stopped_early")
    if stopped:
        console.print(f"[yellow]{stopped_text(stopped)}[/yellow]", highlight=False)
    for warning in warnings_of(results):
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    incomplete = " (incomplete run)" if results.get("incomplete") else ""
    console.print(f"verdict: {verdict_text(results.get('valid'))}{incomplete}")
    console.print(f"run stored in {run_dir}", highlight=False, soft_wrap=True, markup=False)
    if seed is not None:
        console.print(
            f"seed {seed}; repeat with: {command}", highlight=False, markup=False, soft_wrap=True
        )


def warnings_of(results: dict[str, Any]) -> list[str]:
    """What the checkers flag about the run's own precision (``metrics.warnings``):
    an observer that could not keep its sampling interval, say."""
    seen: list[str] = []
    for res in results.get("checkers", {}).values():
        for warning in res.get("metrics", {}).get("warnings", []) or []:
            if warning not in seen:
                seen.append(str(warning))
    return seen


def _figures(metrics: dict[str, Any]) -> str:
    return "; ".join(f"{label} {text}" for label, text in headline(metrics))
