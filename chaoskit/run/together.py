"""Several faults as one: ``--nemesis 'clock-skew-leader:rate=0.25&isolate-leader'``.

The schedule runs one fault at a time; some failures only happen when two overlap.
A leader whose lease is timed by its own clock is safe when its clock is wrong (it
still hears the newer term) and safe when it is cut off (its lease ends before the
others elect), and unsafe only when both happen at once. ``Together`` starts its parts
in the order written, so leader-aware parts all pick the leader of that moment, and
stops them in reverse. Its fault's ``down`` and ``cut`` are the unions of the parts',
so the checkers know who was unavailable; ``detail["parts"]`` keeps each part's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from chaoskit.core.disk import needs_disk
from chaoskit.core.nemesis import Fault, Nemesis, NemesisContext
from chaoskit.errors import ConfigError


class Together:
    """A nemesis whose one fault is the faults of ``parts`` (``(key, nemesis)``) at once."""

    def __init__(self, parts: Sequence[tuple[str, Nemesis]]) -> None:
        self.parts = list(parts)
        self.name = "&".join(key for key, _ in self.parts)
        self.description = "together: " + ", ".join(n.description for _, n in self.parts)

    @property
    def needs_disk(self) -> bool:
        """A disk fault among the parts needs the disk of the whole (chaoskit/core/disk.py)."""
        return needs_disk(n for _, n in self.parts)

    def configure(self, options: Mapping[str, str]) -> None:
        """Options belong to the parts (``a:k=v&b``), never to the whole."""
        if options:
            raise ConfigError(f"give options to the parts of '{self.name}', not to the whole")

    def check_cluster(self, nodes: int) -> None:
        """Every part must fit the cluster."""
        for _, nemesis in self.parts:
            nemesis.check_cluster(nodes)

    async def start(self, ctx: NemesisContext) -> Fault | None:
        """Start every part; if one fails to start, heal those already started."""
        started: list[tuple[int, Fault]] = []
        try:
            for index, (_, nemesis) in enumerate(self.parts):
                fault = await nemesis.start(ctx)
                if fault is not None:
                    started.append((index, fault))
        except BaseException:
            await self._stop_parts(ctx, started)
            raise
        if not started:
            return None
        return Fault(
            fault=self.name,
            detail={
                "parts": [
                    {"nemesis": self.parts[i][0], "fault": f.fault, "detail": f.detail}
                    for i, f in started
                ]
            },
            down=sorted({node for _, f in started for node in f.down}),
            cut=sorted({tuple(link) for _, f in started for link in f.cut}),  # type: ignore[misc]
            state=started,
        )

    async def stop(self, ctx: NemesisContext, fault: Fault) -> None:
        await self._stop_parts(ctx, fault.state)

    async def _stop_parts(self, ctx: NemesisContext, started: list[tuple[int, Fault]]) -> None:
        """Heal in reverse order; every part gets its stop even if an earlier one raised."""
        error: BaseException | None = None
        for index, fault in reversed(started):
            try:
                await self.parts[index][1].stop(ctx, fault)
            except Exception as exc:  # noqa: BLE001 - re-raised once all are healed
                error = error or exc
        if error is not None:
            raise error
