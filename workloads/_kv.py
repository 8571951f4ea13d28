"""The ``kv`` workload: get and put on many keys, with faker words as values.

Many keys keep each key's history short (cheap to check) while spreading load,
the opposite trade-off of ``register``; lost or stale puts still show up as
non-linearizable gets.
"""

from __future__ import annotations

import random

from chaoskit.core.workload import Op
from chaoskit.workloads._values import SeededFaker

KEY_COUNT = 64


class KvWorkload:
    """Half gets, half puts, on ``KEY_COUNT`` keys."""

    name = "kv"
    description = "get and put faker words on many keys (linearizable per key)"
    model: str | None = "kv"
    checkers: tuple[str, ...] = ("linearizable",)

    def __init__(self) -> None:
        self._fake = SeededFaker()

    def next_op(self, rng: random.Random) -> Op | None:
        """``{"f": "get", "key": "key7", "value": None}`` or a put of a word."""
        f = rng.choice(("get", "put"))
        key = f"key{rng.randrange(KEY_COUNT)}"
        if f == "get":
            return {"f": "get", "key": key, "value": None}
        return {"f": "put", "key": key, "value": self._fake.word(rng)}

    def final_ops(self) -> list[Op]:
        return []
