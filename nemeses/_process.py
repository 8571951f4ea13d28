"""Process faults: kill (SIGKILL, restart on stop) and pause (SIGSTOP, SIGCONT on stop).

The targets are the victims. ``kill`` and ``pause`` hit a random minority by default
(``count=`` takes any target selector: ``one``, ``majority``, ``leader``, a number);
``kill-leader`` and ``pause-leader`` hit the node the observer believes leads when the
step fires (a random node when nobody does). The victims go into ``Fault.down``: the
checkers read it to know whether a majority was up.
"""

from __future__ import annotations

from collections.abc import Sequence

from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.nemeses._options import TargetedOptions


class _ProcessFault(TargetedOptions):
    """Shared shape: act on each victim, undo on each at stop."""

    name = ""
    description = ""
    default_targets = "minority"
    #: What the runtime does to a victim, and how stop undoes it.
    action = ""
    options: tuple[str, ...] = ()

    async def start(self, ctx: NemesisContext, targets: Sequence[str]) -> Fault | None:
        victims = sorted(set(targets) & set(ctx.ids))
        if not victims:
            return None
        for node in victims:
            await self._apply(ctx, node)
        detail = {"action": self.action, "nodes": victims}
        return Fault(fault=self.name, detail=detail, down=list(victims))

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        for node in fault.down:
            await self._undo(ctx, node)

    async def _apply(self, ctx: NemesisContext, node: str) -> None:
        raise NotImplementedError

    async def _undo(self, ctx: NemesisContext, node: str) -> None:
        raise NotImplementedError


class _Kill(_ProcessFault):
    action = "kill"

    async def _apply(self, ctx: NemesisContext, node: str) -> None:
        await ctx.runtime.kill(node)

    async def _undo(self, ctx: NemesisContext, node: str) -> None:
        await ctx.runtime.start(node)


class _Pause(_ProcessFault):
    action = "pause"

    async def _apply(self, ctx: NemesisContext, node: str) -> None:
        await ctx.runtime.pause(node)

    async def _undo(self, ctx: NemesisContext, node: str) -> None:
        await ctx.runtime.resume(node)


class Kill(_Kill):
    """SIGKILL a random minority (``count=``); stop restarts them."""

    name = "kill"
    description = "SIGKILL a random minority of nodes; restart them at heal"
    options = ("count",)


class Pause(_Pause):
    """SIGSTOP a random minority (``count=``); stop resumes them."""

    name = "pause"
    description = "SIGSTOP a random minority of nodes; SIGCONT them at heal"
    options = ("count",)


class KillLeader(_Kill):
    """``kill`` aimed at whoever leads now; stop restarts it."""

    name = "kill-leader"
    description = "SIGKILL the current leader (a random node if none); restart it at heal"
    default_targets = "leader"


class PauseLeader(_Pause):
    """``pause`` aimed at whoever leads now: the classic stale-leader scenario on resume."""

    name = "pause-leader"
    description = "SIGSTOP the current leader (a random node if none); SIGCONT it at heal"
    default_targets = "leader"
