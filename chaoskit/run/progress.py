"""The live terminal display of a run: time, current leader, active faults, ops."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

if TYPE_CHECKING:
    from chaoskit.run.controller import Controller

console = Console(stderr=True)


class Progress:
    """Refreshes a small status table a few times a second while the run goes."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled and console.is_terminal
        self._live: Live | None = None
        self._task: asyncio.Task[None] | None = None
        self._controller: Controller | None = None

    def start(self, controller: Controller) -> None:
        self._controller = controller
        if not self.enabled:
            return
        self._live = Live(self._render(), console=console, refresh_per_second=4, transient=True)
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
        console.print(f"[yellow]warning:[/yellow] {message}")

    async def _refresh(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            while self._live is not None:
                self._live.update(self._render())
                await asyncio.sleep(0.25)

    def _render(self) -> Any:
        c = self._controller
        table = Table.grid(padding=(0, 2))
        if c is None or c.observer is None:
            return table
        elapsed = c.clock.now() / 1e9
        remaining = max(0.0, c.config.time_limit - elapsed)
        leader = c.observer.current_leader() or "[red]none[/red]"
        faults = ", ".join(f"{a.fault.fault}#{a.id}" for a in c.state.active.values()) or "none"
        ops = c.clients.ops_done if c.clients is not None else 0
        roles = " ".join(f"{n}:{r[0].upper()}" for n, r in c.observer.roles().items())
        table.add_row(
            "[bold]chaoskit[/bold]",
            f"{c.plan.target.name} / {c.config.nemesis_label}",
            f"seed {c.seed}",
        )
        table.add_row("time", f"{elapsed:5.1f} s elapsed", f"{remaining:5.1f} s left")
        table.add_row("leader", str(leader), roles)
        table.add_row("faults", faults, f"ops {ops}")
        return table
