"""Bully: the pure core in a simulated network, then a real 3-node cluster.

The highest live rank leads; when it dies the next one takes over; and, the known
weakness, a partition gives each side its own leader until the heal.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.targets._node._procs import LocalCluster
from chaoskit.targets._sim import SimNetwork
from chaoskit.targets.bully._core import BullyCore, BullyMessage, rank_of


class BullySim:
    def __init__(self, seed: int, n: int, drop: float = 0.0) -> None:
        self.rng = random.Random(seed)
        self.ids = [f"n{i + 1}" for i in range(n)]
        self.ranks = {node: rank_of(node) for node in self.ids}
        self.net: SimNetwork[BullyMessage] = SimNetwork(
            random.Random(self.rng.random()), self.ids, drop=drop, max_delay=2
        )
        self.cores: dict[str, BullyCore | None] = {}
        self.now = 0
        for node in self.ids:
            self.boot(node)

    def boot(self, node: str) -> None:
        self.cores[node] = BullyCore(node, self.ranks, random.Random(self.rng.random()))
        self._drain(node)

    def _drain(self, node: str) -> None:
        core = self.cores[node]
        assert core is not None
        for msg in core.ready():
            self.net.send(msg, self.now)

    def run(self, ticks: int) -> None:
        for _ in range(ticks):
            self.now += 1
            for node, core in self.cores.items():
                if core is not None:
                    core.tick()
                    self._drain(node)
            for msg in self.net.due(self.now):
                core = self.cores[msg.dst]
                if core is not None:
                    core.step(msg)
                    self._drain(msg.dst)

    def leaders(self, group: list[str] | None = None) -> set[str | None]:
        """What each live node of ``group`` names as leader."""
        return {c.leader for n in (group or self.ids) if (c := self.cores[n]) is not None}

    def epochs(self) -> set[int]:
        return {c.epoch for c in self.cores.values() if c is not None}

    def leading(self) -> list[str]:
        return [n for n, c in self.cores.items() if c is not None and c.role == "leader"]


@pytest.mark.parametrize("seed", range(50))
def test_highest_rank_leads_then_the_next_when_it_dies(seed: int) -> None:
    sim = BullySim(seed, 5, drop=0.02)
    sim.run(150)
    assert sim.leading() == ["n5"] and sim.leaders() == {"n5"}
    sim.cores["n5"] = None
    sim.run(150)
    assert sim.leading() == ["n4"] and sim.leaders() == {"n4"}
    sim.boot("n5")  # the higher node comes back and bullies its way in
    sim.run(150)
    assert sim.leading() == ["n5"] and sim.leaders() == {"n5"}
    assert len(sim.epochs()) == 1  # and it learnt the epoch it missed


@pytest.mark.parametrize("seed", range(20))
def test_partition_gives_each_side_a_leader_until_the_heal(seed: int) -> None:
    sim = BullySim(seed, 5)
    sim.run(100)
    epoch = sim.cores["n5"].epoch  # type: ignore[union-attr]
    sim.net.partition([["n1", "n2"], ["n3", "n4", "n5"]])
    sim.run(150)
    assert sorted(sim.leading()) == ["n2", "n5"]  # split brain: the known weakness
    assert sim.leaders(["n1", "n2"]) == {"n2"}
    sim.net.heal()
    sim.run(150)
    assert sim.leading() == ["n5"] and sim.leaders() == {"n5"}
    assert len(sim.epochs()) == 1 and sim.epochs().pop() > epoch


def test_rank_of_reads_the_trailing_number() -> None:
    assert rank_of("n12") == 12
    with pytest.raises(ValueError, match="must end in a number"):
        rank_of("alpha")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with LocalCluster("chaoskit.targets.bully", 3, tmp_path) as c:
        c.start_all()
        yield c


@pytest.mark.integration
def test_real_bully_cluster_follows_the_highest_live_id(cluster: LocalCluster) -> None:
    c = cluster
    assert c.wait_for(lambda: c.stable_leader() == "n3" or None, timeout=15)
    st = c.status("n1")
    assert st is not None and st["term"] >= 1 and isinstance(st["clock"], float)
    assert c.http.get(f"{c.url('n1')}/kv/x").status_code == 501
    c.kill("n3")
    assert c.wait_for(lambda: c.stable_leader() == "n2" or None, timeout=15)
    c.start("n3")
    assert c.wait_for(lambda: c.stable_leader() == "n3" or None, timeout=15)
