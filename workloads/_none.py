"""The ``none`` workload: no client at all, the run checks leadership alone."""

from __future__ import annotations

import random

from chaoskit.core.workload import Op


class NoWorkload:
    """No client at all: the run checks leadership from observations alone."""

    name = "none"
    description = "no client operations (leader observations only)"
    model: str | None = None
    checkers: tuple[str, ...] = ()

    def next_op(self, rng: random.Random) -> Op | None:
        return None

    def final_ops(self) -> list[Op]:
        return []
