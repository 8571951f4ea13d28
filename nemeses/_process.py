"""Process faults: kill (SIGKILL, restart on stop) and pause (SIGSTOP, SIGCONT on stop).

``kill`` and ``pause`` hit a random minority (``count=`` changes that);
``kill-leader`` and ``pause-leader`` hit the node the observer believes leads now,
or a random node when nobody does. The victims go into ``Fault.down``: the
checkers read it to know whether a majority was up.
"""

from __future__ import annotations

from collections.abc import Mapping

from chaoskit.core.nemesis import Fault, NemesisContext
from chaoskit.nemeses._options import check_count, check_keys, parse_count
from chaoskit.nemeses._victims import leader_or_fallback, pick


class _ProcessFault:
    """Shared shape: choose victims, act on each, undo on each at stop."""

    name = ""
    description = ""
    #: What the runtime does to a victim, and how stop undoes it.
    action = ""
    options: tuple[str, ...] = ()

    def configure(self, options: Mapping[str, str]) -> None:
        """Take this nemesis's options; unknown ones are a ``ConfigError``."""
        check_keys(self.name, options, self.options)
        self._configure(options)

    def _configure(self, options: Mapping[str, str]) -> None:
        pass

    def check_cluster(self, nodes: int) -> None:
        """The leader variants hit one node: any cluster will do."""

    async def start(self, ctx: NemesisContext) -> Fault | None:
        victims, detail = self._victims(ctx)
        if not victims:
            return None
        for node in victims:
            await self._apply(ctx, node)
        detail = {**detail, "action": self.action, "nodes": victims}
        return Fault(fault=self.name, detail=detail, down=list(victims))

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        for node in fault.down:
            await self._undo(ctx, node)

    def _victims(self, ctx: NemesisContext) -> tuple[list[str], dict[str, object]]:
        raise NotImplementedError

    async def _apply(self, ctx: NemesisContext, node: str) -> None:
        raise NotImplementedError

    async def _undo(self, ctx: NemesisContext, node: str) -> None:
        raise NotImplementedError


class _Minority(_ProcessFault):
    """Victims: a random minority by default, or ``count=one|minority|majority|all|N``."""

    options = ("count",)

    def __init__(self) -> None:
        self.count: str | int = "minority"

    def _configure(self, options: Mapping[str, str]) -> None:
        if "count" in options:
            self.count = parse_count(self.name, options["count"])

    def check_cluster(self, nodes: int) -> None:
        """A fixed count needs that many nodes."""
        check_count(self.name, self.count, nodes)

    def _victims(self, ctx: NemesisContext) -> tuple[list[str], dict[str, object]]:
        return pick(sorted(ctx.ids), self.count, ctx.rng), {"count": self.count}


class _Leader(_ProcessFault):
    """Victim: the current leader, or a random node when nobody leads."""

    def _victims(self, ctx: NemesisContext) -> tuple[list[str], dict[str, object]]:
        node, detail = leader_or_fallback(ctx)
        return ([node] if node is not None else []), dict(detail)


class _Kill:
    action = "kill"

    async def _apply(self, ctx: NemesisContext, node: str) -> None:
        await ctx.runtime.kill(node)

    async def _undo(self, ctx: NemesisContext, node: str) -> None:
        await ctx.runtime.start(node)


class _Pause:
    action = "pause"

    async def _apply(self, ctx: NemesisContext, node: str) -> None:
        await ctx.runtime.pause(node)

    async def _undo(self, ctx: NemesisContext, node: str) -> None:
        await ctx.runtime.resume(node)


class Kill(_Kill, _Minority):
    """SIGKILL a random minority; stop restarts them."""

    name = "kill"
    description = "SIGKILL a random minority of nodes; restart them at heal"


class Pause(_Pause, _Minority):
    """SIGSTOP a random minority; stop resumes them."""

    name = "pause"
    description = "SIGSTOP a random minority of nodes; SIGCONT them at heal"


class KillLeader(_Kill, _Leader):
    """SIGKILL whoever leads now; stop restarts it."""

    name = "kill-leader"
    description = "SIGKILL the current leader (a random node if none); restart it at heal"


class PauseLeader(_Pause, _Leader):
    """SIGSTOP whoever leads now: the classic stale-leader scenario on resume."""

    name = "pause-leader"
    description = "SIGSTOP the current leader (a random node if none); SIGCONT it at heal"
