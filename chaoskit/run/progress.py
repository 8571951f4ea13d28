"""The live terminal display of a run: time, current leader, active faults, ops,
anomalies found so far and the observer's recent sampling interval.

The display knows nothing of the controller: it redraws a ``Snapshot`` that a
function it is given returns, a few times a second. Warnings and anomalies found
live are printed as lines (above the display when it runs, on stderr either way),
so a non-interactive run shows each anomaly the moment it is found too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

console = Console(stderr=True)


@dataclass(frozen=True)
class Snapshot:
    """What the display shows at one instant."""

    title: str
    seed: int
    elapsed_s: float
    remaining_s: float
    leader: str | None
    roles: dict[str, str] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    ops: int = 0
    #: Anomalies found live so far, and the last one's kind and nodes.
    anomalies: int = 0
    last_anomaly: str = ""
    #: The observer's sampling interval over the last seconds (p99, ms), and its goal.
    sampling_p99_ms: float | None = None
    sampling_goal_ms: float | None = None


class Progress:
    """Refreshes a small status table a few times a second while the run goes."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and console.is_terminal
        self._live: Live | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self, snapshot: Callable[[], Snapshot | None]) -> None:
        if not self.enabled:
            return
        self._snapshot = snapshot
        self._live = Live(render(snapshot()), console=console, refresh_per_second=4, transient=True)
        self._live.start()
        self._task = asyncio.create_task(self._refresh())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._live is not None:
            self._live.stop()
            self._live = None

    def warn(self, message: str) -> None:
        console.print(f"[yellow]warning:[/yellow] {message}", markup=True, highlight=False)

    def anomaly(self, message: str) -> None:
        """One line per anomaly found live, the moment it is found."""
        console.print(f"[red]anomaly[/red] {escape(message)}", markup=True, highlight=False)

    async def _refresh(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while self._live is not None:
                self._live.update(render(self._snapshot()))
                await asyncio.sleep(0.25)


def render(snap: Snapshot | None) -> Table:
    """The status table of ``snap`` (empty before the cluster is up)."""
    table = Table.grid(padding=(0, 2))
    if snap is None:
        return table
    roles = " ".join(f"{n}:{r[0].upper()}" for n, r in sorted(snap.roles.items()))
    table.add_row("[bold]chaoskit[/bold]", snap.title, f"seed {snap.seed}")
    table.add_row("time", f"{snap.elapsed_s:5.1f} s elapsed", f"{snap.remaining_s:5.1f} s left")
    table.add_row("leader", snap.leader or "[red]none[/red]", roles)
    table.add_row("faults", ", ".join(snap.faults) or "none", f"ops {snap.ops}")
    if snap.anomalies:
        table.add_row("[red]anomalies[/red]", str(snap.anomalies), snap.last_anomaly)
    if snap.sampling_p99_ms is not None:
        goal = snap.sampling_goal_ms
        slipped = goal is not None and snap.sampling_p99_ms > goal
        shown = f"p99 {snap.sampling_p99_ms:.0f} ms" + (f" (goal {goal:.0f} ms)" if slipped else "")
        table.add_row("sampling", f"[yellow]{shown}[/yellow]" if slipped else shown, "")
    return table
