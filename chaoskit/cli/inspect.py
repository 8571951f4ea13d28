"""Commands that look at what is there: plug-ins, stored runs, histories, reports."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from chaoskit.cli.console import out
from chaoskit.cli.summary import print_summary
from chaoskit.core import plugins


@click.command("list")
def list_plugins() -> None:
    """Show the targets, nemeses, workloads and checkers available."""
    for kind in plugins.KINDS:
        click.echo(click.style(kind, bold=True))
        for name in plugins.names(kind):
            try:
                desc = getattr(plugins.load(kind, name), "description", "")
            except Exception as exc:  # noqa: BLE001 - a broken plug-in is listed, not fatal
                desc = f"(cannot load: {exc})"
            click.echo(f"  {name:<28} {desc}")


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--policy", type=click.Choice(["strict", "per-term"]), default=None)
@click.option("--all-metrics", is_flag=True, help="Print every checker's metrics too.")
def check(run_dir: Path, policy: str | None, all_metrics: bool) -> None:
    """Re-run the checkers on a stored run (or a store's latest run)."""
    from chaoskit.checkers.checking import check_stored_run

    run_dir, results = check_stored_run(run_dir, policy=policy)
    print_summary(out, run_dir, results, all_metrics=all_metrics)
    sys.exit(1 if results["valid"] is False else 0 if results["valid"] is True else 2)


@click.command("check-history")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--model", type=click.Choice(["register", "kv"]), required=True)
def check_history(file: Path, model: str) -> None:
    """Check a history file (chaoskit JSONL, Jepsen log or EDN) for linearizability."""
    from chaoskit.checkers.history_formats import check_history_file

    result = check_history_file(file, model)
    if result.valid is True:
        out.print(
            f"{file}: linearizable ({result.metrics.get('ops', '?')} ops)",
            markup=False,
            highlight=False,
        )
        sys.exit(0)
    for anomaly in result.anomalies[:5]:
        out.print(f"{file}: {anomaly.get('message', anomaly)}", markup=False, highlight=False)
    if result.valid is False:
        out.print(f"{file}: NOT linearizable", markup=False, highlight=False)
        sys.exit(1)
    out.print(
        f"{file}: unknown ({result.error or 'search budget exceeded'})",
        markup=False,
        highlight=False,
    )
    sys.exit(2)


@click.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """Regenerate a run's report.html and junit.xml (RUN_DIR may be a store: its latest)."""
    from chaoskit.report import write_junit, write_run_report
    from chaoskit.store.rundir import resolve_run_dir

    run_dir = resolve_run_dir(run_dir)
    out.print(str(write_run_report(run_dir)), markup=False, highlight=False)
    out.print(str(write_junit(run_dir)), markup=False, highlight=False)


@click.command()
@click.argument("store", type=click.Path(path_type=Path), default=Path("runs"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also answer requests for this Host name (default: loopback names and --host).",
)
def serve(store: Path, host: str, port: int, allow_hosts: tuple[str, ...]) -> None:
    """Serve the run store with an index of runs and each run's report."""
    from chaoskit.report import serve as serve_store

    serve_store(store, host=host, port=port, allow_hosts=allow_hosts)
