"""A simulated network for the deterministic in-memory cluster tests.

Messages are delivered after a random delay of whole ticks, so they reorder; they
may be dropped or duplicated; directed links can be cut (``cut``, ``isolate``,
``partition``) and healed. Everything random comes from the ``random.Random`` the
caller passes in, so one seed replays one run exactly. Modelled on the ``network``
of etcd-io/raft's tests (drop, cut, isolate, recover), written for any core whose
messages carry ``src`` and ``dst``.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


@dataclass(frozen=True)
class Violation:
    """A property a simulated run broke, first seen at ``tick`` (Raft and Paxos sims)."""

    property: str
    tick: int
    detail: str


class Addressed(Protocol):
    @property
    def src(self) -> str: ...

    @property
    def dst(self) -> str: ...


M = TypeVar("M", bound=Addressed)


class SimNetwork(Generic[M]):
    """Directed links between named nodes, with loss, delay, duplication and cuts."""

    def __init__(
        self,
        rng: random.Random,
        nodes: Iterable[str],
        *,
        drop: float = 0.0,
        duplicate: float = 0.0,
        max_delay: int = 1,
    ) -> None:
        self.rng = rng
        self.nodes = tuple(nodes)
        self.drop = drop
        self.duplicate = duplicate
        self.max_delay = max_delay
        self.cuts: set[tuple[str, str]] = set()
        self._queue: list[tuple[int, float, int, M]] = []
        self._seq = itertools.count()

    def send(self, msg: M, now: int) -> None:
        """Put ``msg`` in flight unless its link is cut or the dice drop it."""
        copies = 2 if self.rng.random() < self.duplicate else 1
        for _ in range(copies):
            if (msg.src, msg.dst) in self.cuts or self.rng.random() < self.drop:
                continue
            at = now + self.rng.randint(1, max(1, self.max_delay))
            heapq.heappush(self._queue, (at, self.rng.random(), next(self._seq), msg))

    def due(self, now: int) -> list[M]:
        """Messages arriving by ``now``, in arrival order; a link cut meanwhile eats them."""
        out: list[M] = []
        while self._queue and self._queue[0][0] <= now:
            msg = heapq.heappop(self._queue)[3]
            if (msg.src, msg.dst) not in self.cuts:
                out.append(msg)
        return out

    def in_flight(self) -> int:
        return len(self._queue)

    def cut(self, src: str, dst: str) -> None:
        self.cuts.add((src, dst))

    def isolate(self, node: str) -> None:
        """Cut every link to and from ``node``."""
        for other in self.nodes:
            if other != node:
                self.cuts.add((node, other))
                self.cuts.add((other, node))

    def partition(self, groups: Iterable[Iterable[str]]) -> None:
        """Cut every link between different groups (nodes in no group are isolated)."""
        side = {n: str(i) for i, group in enumerate(groups) for n in group}
        for n in self.nodes:
            side.setdefault(n, f"alone:{n}")
        for a in self.nodes:
            for b in self.nodes:
                if side[a] != side[b]:
                    self.cuts.add((a, b))

    def heal(self) -> None:
        self.cuts.clear()

    def connected_majority(self, up: Iterable[str]) -> bool:
        """Whether some majority of all nodes is up and fully connected both ways."""
        alive = [n for n in self.nodes if n in set(up)]
        need = len(self.nodes) // 2 + 1
        for size in range(len(alive), need - 1, -1):
            for group in itertools.combinations(alive, size):
                if all((a, b) not in self.cuts for a in group for b in group if a != b):
                    return True
        return False
