"""Faker values drawn from the caller's seeded generator.

Faker keeps its own random state, so one shared instance would hand out values in
whatever order concurrent clients happened to ask. Each generator passed in gets
its own Faker, seeded once from that generator: a client's values then depend only
on the run's seed and that client's own draws.
"""

from __future__ import annotations

import random
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from faker import Faker


class SeededFaker:
    """One Faker per random generator, created and seeded on first use."""

    def __init__(self) -> None:
        self._fakers: weakref.WeakKeyDictionary[random.Random, Faker] = weakref.WeakKeyDictionary()

    def for_rng(self, rng: random.Random) -> Faker:
        """The Faker bound to ``rng`` (seeded from it the first time)."""
        fake = self._fakers.get(rng)
        if fake is None:
            # Imported on first use: faker takes most of a second to import, and only
            # the kv workload draws from it (every run loads the workload catalogue).
            from faker import Faker

            fake = Faker()
            fake.seed_instance(rng.getrandbits(64))
            self._fakers[rng] = fake
        return fake

    def word(self, rng: random.Random) -> str:
        """A word such as ``'garden'``: readable values in histories and reports."""
        return str(self.for_rng(rng).word())
