"""The ``set`` workload: unique adds, then one read of everything after the final heal.

Every acknowledged add must be in the final read (the ``lost-writes`` checker).
Values are unique by construction (a counter shared by all clients), so an add
can never be mistaken for another one.
"""

from __future__ import annotations

import itertools
import random

from chaoskit.core.workload import Op

KEY = "s"


class SetWorkload:
    """Add 0, 1, 2, ... to one set; read it whole at the end."""

    name = "set"
    description = "add unique ints to a set, read it all after the final heal (lost writes)"
    model: str | None = None
    checkers: tuple[str, ...] = ("lost-writes",)

    def __init__(self) -> None:
        self._next = itertools.count()

    def next_op(self, rng: random.Random) -> Op | None:
        """``{"f": "add", "key": "s", "value": 17}``; ``rng`` is not needed for a counter."""
        return {"f": "add", "key": KEY, "value": next(self._next)}

    def final_ops(self) -> list[Op]:
        return [{"f": "read-set", "key": KEY, "value": None}]
