"""``chaoskit replay RUN [--times N]``: does the anomaly come back?

Re-runs the exact schedule of a stored run (its tape: the same faults at the same
times, leader roles resolved again, random victims pinned; the same seed, settings and
target options) N times, in the same store, and reports how many runs showed an
anomaly of the same kind (same checker and kind): the reproduction rate. The runs and
the rate are written to ``RUN/replay.json``. Exit status: 1 when any re-run found an
anomaly, 0 when every one was valid, 2 when none found one and some had no verdict
(or on bad input).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from chaoskit.cli.console import err, out, run_async
from chaoskit.run.rerun import Rerunner, StoredRun, load_stored_run
from chaoskit.scenario.outcome import Candidate, Kind, Outcome, choose_kind
from chaoskit.store.rundir import write_json

REPLAY = "replay.json"


def kind_text(kind: Kind | None) -> str:
    return f"{kind[0]}:{kind[1]}" if kind else "any anomaly"


def progress_bar() -> Progress:
    """The bar replay and shrink show on stderr while runs go."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )


def outcome_line(outcome: Outcome, kind: Kind | None) -> str:
    """One line per re-run: where, and what it found."""
    mark = "[red]reproduced[/red]" if outcome.reproduced(kind) else "not reproduced"
    found = ", ".join(f"{c}:{k}" for c, k in outcome.kinds) or (
        "valid" if outcome.valid is True else str(outcome.valid)
    )
    error = f" error: {outcome.error}" if outcome.error else ""
    return f"  {mark}: {found} ({outcome.wall_s:.0f} s) {outcome.run_dir or ''}{error}"


async def run_times(
    runner: Rerunner,
    candidate: Candidate,
    times: int,
    kind: Kind | None,
    purpose: str,
    *,
    label: str,
    first: int = 1,
    report: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run ``candidate`` ``times`` times behind a progress bar."""
    outcomes: list[Outcome] = []
    with progress_bar() as bar:
        task = bar.add_task(label, total=times, status="")
        for i in range(times):
            outcome = await runner(candidate, purpose, first + i)
            outcomes.append(outcome)
            bar.console.print(outcome_line(outcome, kind), highlight=False, soft_wrap=True)
            hits = sum(o.reproduced(kind) for o in outcomes)
            bar.update(task, advance=1, status=f"reproduced {hits}/{len(outcomes)}")
            if report is not None:
                report(outcome)
    return outcomes


def exit_status(outcomes: list[Outcome]) -> int:
    """1: some re-run found an anomaly; 0: all valid; 2: otherwise."""
    if any(o.valid is False for o in outcomes):
        return 1
    if outcomes and all(o.valid is True and not o.error for o in outcomes):
        return 0
    return 2


def replay_json(stored: StoredRun, kind: Kind | None, outcomes: list[Outcome]) -> dict[str, Any]:
    hits = sum(o.reproduced(kind) for o in outcomes)
    return {
        "run": str(stored.run_dir),
        "kind": kind_text(kind) if kind else None,
        "times": len(outcomes),
        "reproduced": hits,
        "rate": round(hits / len(outcomes), 3) if outcomes else None,
        "runs": [o.to_json(kind) for o in outcomes],
    }


@click.command()
@click.argument("run_dir", metavar="RUN", type=click.Path(path_type=Path))
@click.option(
    "--times",
    default=5,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="How many re-runs.",
)
@click.option(
    "--kind",
    default=None,
    metavar="[CHECKER:]KIND",
    help="The anomaly to look for (default: the run's first safety anomaly).",
)
def replay(run_dir: Path, times: int, kind: str | None) -> None:
    """Re-run a stored run's exact schedule N times: how often its anomaly comes back."""
    stored = load_stored_run(run_dir)
    wanted = choose_kind(stored.results, kind)
    runner = Rerunner(stored)
    candidate = stored.original()
    out.print(
        f"replaying {stored.run_dir} ({candidate.events} faults, {candidate.time_limit:g} s, "
        f"seed {stored.config.get('seed')}) {times} times; looking for {kind_text(wanted)}",
        highlight=False,
        soft_wrap=True,
    )
    outcomes = run_async(run_times(runner, candidate, times, wanted, "replay", label="replay"))
    summary = replay_json(stored, wanted, outcomes)
    write_json(stored.run_dir / REPLAY, summary)
    out.print(
        f"reproduced {summary['reproduced']}/{times} ({kind_text(wanted)}); "
        f"details in {stored.run_dir / REPLAY}",
        highlight=False,
        soft_wrap=True,
    )
    sys.exit(exit_status(outcomes))
