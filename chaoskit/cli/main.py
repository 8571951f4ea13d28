"""The ``chaoskit`` command line.

Every ``ChaoskitError`` becomes one line on stderr and exit status 2; ``run`` and
``check`` exit 0 when every check is valid and 1 when an anomaly was found.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from chaoskit.cli.summary import print_summary
from chaoskit.core import plugins
from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.run.config import RunConfig, parse_nemeses, parse_options

T = TypeVar("T")
out = Console()
err = Console(stderr=True)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro``; Ctrl-C and SIGTERM cancel it once, so its cleanup paths run.

    Later signals are ignored while the run heals and stops everything: a second
    Ctrl-C must not leave a partition or a process behind. (Our own handler also
    works when the shell started us with SIGINT ignored, as for background jobs.)
    """

    async def main() -> T:
        task = asyncio.current_task()
        assert task is not None
        loop = asyncio.get_running_loop()
        signalled: list[int] = []

        def on_signal(signum: int) -> None:
            if not signalled:
                task.cancel()
            else:
                err.print("still cleaning up: chaoskit stops every node and fault first")
            signalled.append(signum)

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        return await coro

    return asyncio.run(main())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chaoskit")
def cli() -> None:
    """chaoskit: chaos testing for leader-elected services."""


@cli.command()
@click.option(
    "--target",
    "-t",
    default="raft",
    show_default=True,
    help="Target name (see `chaoskit list`) or a target spec file (.toml).",
)
@click.option(
    "--nemesis",
    "-n",
    default="partition",
    show_default=True,
    help="Fault families, comma-separated, each NAME[:key=value;...]; 'none' for none.",
)
@click.option("--nodes", default=5, show_default=True, type=int, help="Cluster size.")
@click.option(
    "--time-limit",
    default=60.0,
    show_default=True,
    type=float,
    help="Seconds of faults and load before the final phase.",
)
@click.option(
    "--seed", type=int, default=None, help="Seed of every random choice (random if absent)."
)
@click.option(
    "--concurrency",
    type=int,
    default=None,
    help="Logical client processes (default: one per node).",
)
@click.option(
    "--bound-clients",
    type=int,
    default=0,
    show_default=True,
    help="Extra clients pinned to one node each (n1, n2, ... in turn), as Jepsen's are: "
    "they stay on a deposed leader, which is how stale reads show.",
)
@click.option(
    "--workload",
    "-w",
    default=None,
    help="Client workload: register, kv, set, none (default: register where supported).",
)
@click.option(
    "--runtime",
    default="local",
    show_default=True,
    help="local, docker, or compose (attach to a running docker-compose cluster).",
)
@click.option(
    "--compose-file",
    default=None,
    type=click.Path(path_type=Path),
    help="--runtime compose: the compose file [default: docker-compose.yml].",
)
@click.option(
    "--compose-project", default=None, help="--runtime compose: the project name (docker -p)."
)
@click.option(
    "--network",
    "network_mode",
    default="proxy",
    show_default=True,
    type=click.Choice(["proxy", "iptables"]),
    help="Link faults through the fault proxy, or iptables in containers (docker).",
)
@click.option(
    "--store",
    default=Path("runs"),
    show_default=True,
    type=click.Path(path_type=Path),
    help="Where runs are stored.",
)
@click.option(
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Target option, e.g. -o bug=stale-read (repeatable).",
)
@click.option(
    "--policy",
    type=click.Choice(["strict", "per-term"]),
    default=None,
    help="Split-brain policy (default: the target's).",
)
@click.option(
    "--election-deadline",
    type=float,
    default=None,
    help="Seconds a healthy majority may stay leaderless (default: the target's).",
)
@click.option(
    "--checker",
    "checkers",
    multiple=True,
    help="Run only these checkers (repeatable; default: leader checks + workload's).",
)
@click.option(
    "--toxiproxy-url", default=None, help="Drive a real Toxiproxy instead of the embedded proxy."
)
@click.option("--fault-seconds", type=float, default=None, help="Mean length of a fault interval.")
@click.option("--heal-seconds", type=float, default=None, help="Mean length of a healthy interval.")
@click.option("--no-progress", is_flag=True, help="No live display.")
def run(
    target: str,
    nemesis: str,
    nodes: int,
    time_limit: float,
    seed: int | None,
    concurrency: int | None,
    bound_clients: int,
    workload: str | None,
    runtime: str,
    compose_file: Path | None,
    compose_project: str | None,
    network_mode: str,
    store: Path,
    options: tuple[str, ...],
    policy: str | None,
    election_deadline: float | None,
    checkers: tuple[str, ...],
    toxiproxy_url: str | None,
    fault_seconds: float | None,
    heal_seconds: float | None,
    no_progress: bool,
) -> None:
    """Launch a cluster, inject faults, record everything, check it."""
    from chaoskit.run.controller import execute
    from chaoskit.runtimes.cleanup import leftover_warning

    warning = leftover_warning()
    if warning:
        err.print(f"warning: {warning}", markup=False)
    if runtime == "compose" or compose_file is not None:
        # Containers of a compose project: the docker runtime's world, attached to.
        runtime, compose_file = "docker", compose_file or Path("docker-compose.yml")
    config = RunConfig(
        target=target,
        nemeses=parse_nemeses(nemesis),
        nodes=nodes,
        time_limit=time_limit,
        seed=seed,
        concurrency=concurrency,
        bound_clients=bound_clients,
        workload=workload,
        runtime=runtime,
        network=network_mode,
        store=store,
        options=parse_options(list(options)),
        policy=policy,  # type: ignore[arg-type]
        election_deadline=election_deadline,
        checkers=list(checkers) or None,
        toxiproxy_url=toxiproxy_url,
        fault_s=fault_seconds,
        heal_s=heal_seconds,
        progress=not no_progress,
        compose_file=compose_file,
        compose_project=compose_project,
    )
    result = run_async(execute(config))
    print_summary(out, result.run_dir, result.results, seed=config.seed, command=config.command())
    if result.interrupted:
        err.print(f"run interrupted; partial run stored in {result.run_dir}")
    elif result.error:
        err.print(f"error: {result.error}")
    sys.exit(result.exit_code)


@cli.command("list")
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


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--policy", type=click.Choice(["strict", "per-term"]), default=None)
def check(run_dir: Path, policy: str | None) -> None:
    """Re-run the checkers on a stored run (or a store's latest run)."""
    from chaoskit.checkers.checking import check_stored_run

    run_dir, results = check_stored_run(run_dir, policy=policy)
    print_summary(out, run_dir, results)
    sys.exit(1 if results["valid"] is False else 0 if results["valid"] is True else 2)


@cli.command("check-history")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--model", type=click.Choice(["register", "kv"]), required=True)
def check_history(file: Path, model: str) -> None:
    """Check a history file (chaoskit JSONL, Jepsen log or EDN) for linearizability."""
    from chaoskit.checkers.history_formats import check_history_file

    if not file.is_file():
        raise ConfigError(f"no such history file: {file}")
    result = check_history_file(file, model)
    if result.valid is True:
        out.print(f"{file}: linearizable ({result.metrics.get('ops', '?')} ops)")
        sys.exit(0)
    for anomaly in result.anomalies[:5]:
        out.print(f"{file}: {anomaly.get('message', anomaly)}")
    if result.valid is False:
        out.print(f"{file}: NOT linearizable")
        sys.exit(1)
    out.print(f"{file}: unknown ({result.error or 'search budget exceeded'})")
    sys.exit(2)


@cli.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
def report(run_dir: Path) -> None:
    """Regenerate a run's report.html and junit.xml (RUN_DIR may be a store: its latest)."""
    from chaoskit.report import write_junit, write_run_report
    from chaoskit.store.rundir import resolve_run_dir

    run_dir = resolve_run_dir(run_dir)
    out.print(str(write_run_report(run_dir)))
    out.print(str(write_junit(run_dir)))


@cli.command()
@click.argument("store", type=click.Path(path_type=Path), default=Path("runs"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(store: Path, host: str, port: int) -> None:
    """Serve the run store with an index of runs and each run's report."""
    from chaoskit.report import serve as serve_store

    serve_store(store, host=host, port=port)


@cli.command()
@click.argument("matrix", type=click.Path(path_type=Path))
@click.option("--store", default=Path("runs"), show_default=True, type=click.Path(path_type=Path))
def nightly(matrix: Path, store: Path) -> None:
    """Run a matrix of targets x nemeses x seeds and write a resilience report."""
    from chaoskit.nightly.cells import run_cell
    from chaoskit.report import run_nightly

    if not matrix.is_file():
        raise ConfigError(f"no such matrix file: {matrix}")
    sys.exit(run_nightly(matrix, store, run_cell))


@cli.group()
def image() -> None:
    """Docker images of the reference nodes and the fault proxy."""


@image.command("build")
@click.option(
    "--base-image",
    default="python:3.11-slim",
    show_default=True,
    help="Base image with Python 3.11 (a local one when no registry is reachable).",
)
@click.option(
    "--wheels",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory of wheels to install offline (default: build them now).",
)
def image_build(base_image: str, wheels: Path | None) -> None:
    """Build the node and proxy images used by --runtime docker and docker-compose.yml."""
    from chaoskit.runtimes.images import build_images

    for tag in build_images(base_image, wheels):
        out.print(f"built {tag}")


@cli.command()
@click.option("--run-id", default=None, help="Only what this run left (default: every run).")
def cleanup(run_id: str | None) -> None:
    """Remove what killed runs left behind: processes, containers, networks."""
    from chaoskit.runtimes.cleanup import cleanup_leftovers

    for line in cleanup_leftovers(run_id):
        out.print(line)


def _add_lazy_commands() -> None:
    from chaoskit.proxy._cli import proxy_command

    cli.add_command(proxy_command)


_add_lazy_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors and exit status 2 for anything a user can get wrong."""
    _guard(lambda: cli.main(args=argv, prog_name="chaoskit", standalone_mode=False))


def _guard(call: Callable[[], Any]) -> None:
    try:
        call()
    except ChaoskitError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(2)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(2)
