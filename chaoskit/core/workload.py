"""The Workload part: which client operations to run, and which model checks them.

An operation is a plain dict: ``{"f": "write", "key": "k1", "value": 5}``. The
workload draws every operation from the random generator it is given (the run's
seed), so the same seed yields the same operations.
"""

from __future__ import annotations

import random
from typing import Any, Protocol, runtime_checkable

Op = dict[str, Any]


@runtime_checkable
class Workload(Protocol):
    """A generator of client operations."""

    name: str
    description: str
    #: The model the ``linearizable`` checker uses (``register``, ``kv``) or None.
    model: str | None
    #: Checkers that make sense for this workload, added to every run that uses it.
    checkers: tuple[str, ...]

    def next_op(self, rng: random.Random) -> Op | None:
        """The next operation to invoke; None when there is nothing to do."""

    def final_ops(self) -> list[Op]:
        """Operations to run after the final heal (e.g. a final read of a set)."""
