"""Raft in a simulated network over many seeds: safety always, liveness once healed.

Each planted bug is shown to break the property it is meant to break, on some seed
within a bounded number, while correct Raft passes the very same seeds and profile.
"""

from __future__ import annotations

import pytest

from chaoskit.targets.raft._core import BUGS
from chaoskit.targets.raft._sim import Profile, RaftSim, SimResult

SEEDS = 1000
CHUNK = 100


def _profile(seed: int, **kw: object) -> Profile:
    return Profile(nodes=3 + 2 * (seed % 2), ticks=200, **kw)  # type: ignore[arg-type]


def _describe(result: SimResult) -> str:
    return f"seed {result.seed}: " + "; ".join(
        f"{v.property} at tick {v.tick}: {v.detail}" for v in result.violations
    )


@pytest.mark.parametrize("start", range(0, SEEDS, CHUNK))
def test_correct_raft_keeps_every_property(start: int) -> None:
    """Election safety, log matching, state machine safety, acks, reads, liveness (5.2-5.4)."""
    activity = 0
    for seed in range(start, start + CHUNK):
        result = RaftSim(seed, _profile(seed)).run()
        assert not result.violations, _describe(result)
        assert result.settle_ticks is not None
        activity += result.acked_writes + result.ok_reads
    assert activity > CHUNK  # the clients really exercised the cluster


def test_same_seed_same_run() -> None:
    a = RaftSim(7, _profile(7)).run()
    b = RaftSim(7, _profile(7)).run()
    assert (a.settle_ticks, a.leaders, a.acked_writes, a.ok_reads, a.committed) == (
        b.settle_ticks,
        b.leaders,
        b.acked_writes,
        b.ok_reads,
        b.committed,
    )


@pytest.mark.parametrize("nodes", [3, 5])
def test_majority_elects_a_leader_with_a_minority_cut_off(nodes: int) -> None:
    """Liveness: a connected majority settles on one leader within a bounded tick count."""
    bound = Profile().settle_ticks
    worst = 0
    for seed in range(100):
        profile = Profile(nodes=nodes, ticks=100, final_isolated=(nodes - 1) // 2)
        result = RaftSim(seed, profile).run()
        assert not result.violations, _describe(result)
        assert result.settle_ticks is not None
        worst = max(worst, result.settle_ticks)
    assert worst <= bound


# Which property each planted bug breaks, and the fault mix that makes it likely.
BUG_CASES: dict[str, tuple[str, dict[str, object]]] = {
    "double-vote": ("election-safety", {}),
    "forget-vote": (
        "election-safety",
        {"fault_weights": (1, 1, 1, 2, 6, 6, 0), "fault_rate": 0.1},
    ),
    "no-step-down": ("liveness", {}),
    "stale-read": (
        "linearizable-read",
        {"fault_weights": (3, 4, 2, 3, 0, 0, 0), "fault_rate": 0.08, "op_rate": 0.8},
    ),
    "early-ack": ("lost-ack", {}),
    "lease-read": (
        "linearizable-read",
        {"fault_weights": (3, 4, 2, 3, 0, 0, 4), "fault_rate": 0.08, "op_rate": 0.8},
    ),
    # A crash of the simulation is a power loss: crashes of a majority, close together.
    "ack-before-fsync": (
        "lost-ack",
        {"fault_weights": (1, 1, 1, 2, 6, 6, 0), "fault_rate": 0.1},
    ),
}
BUG_SEEDS = 300


def test_every_planted_bug_has_a_case() -> None:
    assert set(BUG_CASES) == set(BUGS)


@pytest.mark.parametrize("bug", BUGS)
def test_planted_bug_is_caught(bug: str) -> None:
    prop, knobs = BUG_CASES[bug]
    for seed in range(BUG_SEEDS):
        result = RaftSim(seed, _profile(seed, bug=bug, **knobs)).run()
        if result.broke(prop):
            break
    else:
        pytest.fail(f"bug {bug} never broke {prop} in {BUG_SEEDS} seeds")
    # The same seed and faults without the bug keep every property: the bug did it.
    clean = RaftSim(seed, _profile(seed, **knobs)).run()
    assert not clean.violations, _describe(clean)
