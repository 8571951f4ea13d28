"""The Paxos election in the deterministic simulation: 1,000 seeds, and the planted bugs.

Each seed runs a 3- or 5-node cluster through drops, delays, duplicates, cuts,
partitions, crashes with restarts from disk, pauses and clock-rate drift, then heals
everything (``targets/paxos/_sim.py``).
"""

from __future__ import annotations

import pytest

from chaoskit.targets.paxos._sim import PaxosSim, Profile

SEEDS = range(1000)


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [3, 5])
def test_correct_paxos_keeps_every_property_on_every_seed(nodes: int) -> None:
    bad: list[tuple[int, object]] = []
    leaderships = 0
    for seed in SEEDS[: 600 if nodes == 3 else 400]:
        result = PaxosSim(seed, Profile(nodes=nodes)).run()
        leaderships += result.leaderships
        if result.violations:
            bad.append((seed, result.violations))
    assert not bad, bad[:3]
    assert leaderships > 2 * len(SEEDS[: 600 if nodes == 3 else 400])  # faults forced elections


def test_a_leader_emerges_once_a_majority_can_talk() -> None:
    """Two of three nodes stay cut off from the third: the two must still elect."""
    for seed in range(100):
        sim = PaxosSim(seed, Profile(ticks=0))
        sim.net.isolate(sim.ids[seed % 3])
        for _ in range(400):
            sim.advance()
            leaders = sim.leaders()
            if leaders and all(
                sim._core(n).leader == leaders[0] for n in sim.ids if n != sim.ids[seed % 3]
            ):
                break
        else:
            pytest.fail(f"seed {seed}: no agreed leader in the connected majority")
        assert leaders[0] != sim.ids[seed % 3]


def _paused_leader_overlaps(seed: int, bug: str | None) -> bool:
    """Pause the first leader well beyond its lease, resume it, look for two leaders."""
    sim = PaxosSim(seed, Profile(ticks=0, bug=bug, drop=0.0))
    while not sim.leaders():
        sim.advance()
    first = sim.leaders()[0]
    sim.paused[first] = sim.now + 200
    for _ in range(260):
        sim.advance()
    return sim.result.broke("lease-safety")


@pytest.mark.slow
def test_tick_lease_bug_breaks_lease_safety_after_a_pause() -> None:
    broken = [seed for seed in range(40) if _paused_leader_overlaps(seed, "tick-lease")]
    assert len(broken) >= 36, broken
    assert not any(_paused_leader_overlaps(seed, None) for seed in range(40))


@pytest.mark.slow
def test_forget_promise_bug_lets_a_deposed_ballot_win_again() -> None:
    broken = [
        s for s in SEEDS if PaxosSim(s, Profile(bug="forget-promise")).run().broke("ballot-order")
    ]
    assert len(broken) >= 5, broken


def test_one_seed_replays_exactly() -> None:
    a, b = (
        PaxosSim(7, Profile(bug="tick-lease")).run(),
        PaxosSim(7, Profile(bug="tick-lease")).run(),
    )
    assert a == b
