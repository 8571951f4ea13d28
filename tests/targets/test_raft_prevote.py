"""PreVote (``RaftConfig(pre_vote=True)``, ``-o pre-vote=true``): safe, live, and it keeps a
node that cannot hear the leader from deposing it again and again.

The case that motivated it: the 30-minute endurance run cut {n1, n3, n5} -> {n2, n4}
one way. n2 and n4 never heard the leader, timed out, raised the term, and every
vote request they sent made the leader step down: no leader for 4.25 s while n1, n3
and n5 formed a connected majority (``stalled-election``). With PreVote their
requests are refused while the others hear a leader, and nobody's term moves.
"""

from __future__ import annotations

import pytest

from chaoskit.targets.raft._core import Message, RaftConfig, RaftCore
from chaoskit.targets.raft._sim import Profile, RaftSim

SEEDS = 400
CHUNK = 100


@pytest.mark.parametrize("start", range(0, SEEDS, CHUNK))
def test_correct_raft_with_prevote_keeps_every_property(start: int) -> None:
    for seed in range(start, start + CHUNK):
        profile = Profile(nodes=3 + 2 * (seed % 2), ticks=200, pre_vote=True)
        result = RaftSim(seed, profile).run()
        assert not result.violations, (seed, result.violations)
        assert result.settle_ticks is not None


@pytest.mark.parametrize("nodes", [3, 5])
def test_majority_with_prevote_elects_with_a_minority_cut_off(nodes: int) -> None:
    for seed in range(60):
        profile = Profile(nodes=nodes, ticks=100, final_isolated=(nodes - 1) // 2, pre_vote=True)
        result = RaftSim(seed, profile).run()
        assert not result.violations, (seed, result.violations)
        assert result.settle_ticks is not None


def _oneway_cut(pre_vote: bool, seed: int) -> tuple[int, int, str | None]:
    """Elect, then cut every link from the leader's side to two followers for 400 ticks.

    Returns (leader changes during the cut, term rise during the cut, leader at the end).
    """
    sim = RaftSim(seed, Profile(nodes=5, drop=0.0, duplicate=0.0, pre_vote=pre_vote))
    for _ in range(300):
        sim.advance()
    leaders = [n for n, c in sim.cores.items() if c is not None and c.role == "leader"]
    assert len(leaders) == 1
    leader = leaders[0]
    deaf = [n for n in sim.ids if n != leader][:2]
    for src in sim.ids:
        if src not in deaf:
            for dst in deaf:
                sim.net.cut(src, dst)
    term_before = max(c.term for c in sim.cores.values() if c is not None)
    changes, current = 0, leader
    for _ in range(400):
        sim.advance()
        now = [n for n, c in sim.cores.items() if c is not None and c.role == "leader"]
        if now != [current]:
            changes += 1
            current = now[0] if len(now) == 1 else None
    majority_terms = [sim.cores[n].term for n in sim.ids if n not in deaf]  # type: ignore[union-attr]
    return changes, max(majority_terms) - term_before, current


def test_a_oneway_cut_deposes_the_leader_again_and_again_without_prevote() -> None:
    """The baseline: the paper's Raft has no defence against a node that cannot hear."""
    disrupted = [_oneway_cut(False, seed) for seed in range(5)]
    assert all(changes > 0 and rise > 0 for changes, rise, _ in disrupted), disrupted


def test_prevote_keeps_the_leader_through_a_oneway_cut() -> None:
    for seed in range(5):
        changes, rise, leader = _oneway_cut(True, seed)
        assert (changes, rise) == (0, 0), (seed, changes, rise)
        assert leader is not None


def _core(node: str, *, pre_vote: bool = True) -> RaftCore:
    import random

    return RaftCore(node, ["n1", "n2", "n3"], random.Random(1), RaftConfig(pre_vote=pre_vote))


def test_prevote_changes_no_state_and_is_refused_while_a_leader_is_heard() -> None:
    follower = _core("n2")
    follower.step(Message("append", "n1", "n2", term=3))  # hears leader n1 in term 3
    follower.ready()
    follower.step(Message("prevote", "n3", "n2", term=4))
    (answer,) = follower.ready().messages
    assert (answer.type, answer.granted, answer.term) == ("prevote_resp", False, 3)
    assert (follower.term, follower.voted_for, follower.leader) == (3, None, "n1")
    # Once the leader has been silent for an election timeout, the same question is granted.
    for _ in range(follower.cfg.election_ticks):
        follower._elapsed += 1
    follower.leader = "n1"
    follower.step(Message("prevote", "n3", "n2", term=4))
    (answer,) = follower.ready().messages
    assert (answer.granted, answer.term) == (True, 4)
    assert (follower.term, follower.voted_for) == (3, None)


def test_a_timed_out_node_asks_first_and_campaigns_only_with_a_majority() -> None:
    node = _core("n1")
    for _ in range(2 * node.cfg.election_ticks):
        node.tick()
    asked = node.ready().messages
    assert {m.type for m in asked} == {"prevote"} and {m.term for m in asked} == {1}
    assert (node.term, node.role) == (0, "follower")
    node.step(Message("prevote_resp", "n2", "n1", term=1, granted=True))
    assert (node.term, node.role) == (1, "candidate")
    assert {m.type for m in node.ready().messages} == {"vote"}


def test_prevote_messages_cross_the_wire() -> None:
    from chaoskit.targets.raft._wire import decode, encode

    ask = Message("prevote", "n1", "n2", term=8, last_index=4, last_term=7)
    answer = Message("prevote_resp", "n2", "n1", term=8, granted=True)
    assert decode(encode(ask), "n2", {"n1", "n3"}) == ask
    assert decode(encode(answer), "n1", {"n2", "n3"}) == answer
