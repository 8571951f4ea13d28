"""The ``register`` workload: read, write and compare-and-set on a few keys.

Few keys and small values on purpose: clients collide on the same register and
compare-and-set sometimes succeeds, which is what exposes stale leaders to the
linearizability checker. Values are counters-like small ints (no faker here).
"""

from __future__ import annotations

import random

from chaoskit.core.workload import Op

KEYS = ("k1", "k2", "k3")
#: Values 0..MAX_VALUE: small so that a cas's expected value is often the current one.
MAX_VALUE = 4


class RegisterWorkload:
    """Uniformly read, write or cas one of ``KEYS``."""

    name = "register"
    description = "read, write and compare-and-set small ints on a few keys (linearizable)"
    model: str | None = "register"
    checkers: tuple[str, ...] = ("linearizable",)

    def next_op(self, rng: random.Random) -> Op | None:
        """One op drawn from ``rng``: ``{"f": "cas", "key": "k2", "value": [1, 3]}``."""
        f = rng.choice(("read", "write", "cas"))
        key = rng.choice(KEYS)
        if f == "read":
            return {"f": "read", "key": key, "value": None}
        if f == "write":
            return {"f": "write", "key": key, "value": rng.randint(0, MAX_VALUE)}
        return {
            "f": "cas",
            "key": key,
            "value": [rng.randint(0, MAX_VALUE), rng.randint(0, MAX_VALUE)],
        }

    def final_ops(self) -> list[Op]:
        return []
