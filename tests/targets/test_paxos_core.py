"""The Paxos core in isolation: ballots, promises, leases, persistence, the planted bugs."""

from __future__ import annotations

import dataclasses
import random

import pytest

from chaoskit.targets.paxos._core import RANKS, Durable, PaxosConfig, PaxosCore, PaxosMessage

RANKS3 = {"n1": 1, "n2": 2, "n3": 3}
CFG = PaxosConfig(tick_s=0.01, heartbeat_ticks=4, election_ticks=40, lease_ticks=15)


def core(node: str = "n1", now: float = 0.0, bug: str | None = None) -> PaxosCore:
    return PaxosCore(node, RANKS3, random.Random(1), now, dataclasses.replace(CFG, bug=bug))


def elect(c: PaxosCore, now: float) -> None:
    """Drive ``c`` to leadership with the other two nodes granting everything."""
    while c.role != "candidate":
        c.tick(now)
    (prep,) = [m for m in c.ready() if m.dst == "n2"]
    c.step(PaxosMessage("promise", "n2", c.id, prep.ballot), now)
    (acc,) = [m for m in c.ready() if m.dst == "n2"]
    c.step(PaxosMessage("accepted", "n2", c.id, acc.ballot, acc.seq), now)


def test_ballots_are_unique_per_node_and_above_everything_seen() -> None:
    c = core("n2")
    c.step(PaxosMessage("accept", "n3", "n2", 503, 1), 0.0)
    c.ready()
    for _ in range(200):
        c.tick(10.0)
        if c.role == "candidate":
            break
    assert c.ballot == 6 * RANKS + 2 and c.durable.promised == c.ballot and c.dirty


def test_majority_of_accepts_makes_a_leader_for_one_lease() -> None:
    c = core()
    elect(c, now=5.0)
    assert c.status(5.0) == {"node": "n1", "role": "leader", "term": c.ballot, "leader": "n1"}
    assert c.is_leader(5.0 + CFG.lease_s - 0.001)
    assert not c.is_leader(5.0 + CFG.lease_s)


def test_an_acceptor_guards_the_lease_it_granted() -> None:
    c = core("n2")
    c.step(PaxosMessage("accept", "n1", "n2", 101, 1), 1.0)
    c.ready()
    c.step(PaxosMessage("prepare", "n3", "n2", 203), 1.0 + CFG.guard_s / 2)
    (nack,) = c.ready()
    assert nack.type == "nack" and c.durable.promised == 101
    c.step(PaxosMessage("prepare", "n3", "n2", 203), 1.0 + CFG.guard_s)
    (promise,) = c.ready()
    assert promise.type == "promise" and c.durable.promised == 203
    c.step(PaxosMessage("accept", "n1", "n2", 101, 2), 1.0 + CFG.guard_s)
    (late,) = c.ready()
    assert late.type == "nack" and late.higher == 203


def test_a_nack_with_a_higher_ballot_deposes_the_leader() -> None:
    c = core()
    elect(c, now=5.0)
    c.step(PaxosMessage("nack", "n2", "n1", c.ballot, 1, higher=c.ballot + 100), 5.0)
    assert c.status(5.0)["role"] == "follower"


def test_restart_keeps_the_promise_and_waits_out_a_guard() -> None:
    c = PaxosCore("n2", RANKS3, random.Random(1), 50.0, CFG, Durable(promised=203, accepted=101))
    c.step(PaxosMessage("prepare", "n1", "n2", 201), 50.0 + CFG.guard_s)
    assert c.ready()[0].type == "nack"
    c.step(PaxosMessage("prepare", "n3", "n2", 303), 50.0)
    assert c.ready()[0].type == "nack"  # still within the restart guard


def test_forget_promise_bug_drops_the_durable_state() -> None:
    d = Durable(promised=203, accepted=101)
    c = PaxosCore("n2", RANKS3, random.Random(1), 50.0, PaxosConfig(bug="forget-promise"), d)
    c.step(PaxosMessage("prepare", "n1", "n2", 201), 50.0)
    assert c.ready()[0].type == "promise"


@pytest.mark.parametrize("bug", [None, "tick-lease"])
def test_a_paused_leader_wakes_up_deposed_unless_it_counts_ticks(bug: str | None) -> None:
    c = core(bug=bug)
    elect(c, now=5.0)
    later = 5.0 + 10 * CFG.lease_s  # a long pause: no ticks, time went on
    claims = c.status(later)["role"] == "leader"
    c.step(PaxosMessage("accept", "n2", "n1", c.ballot + 100, 1), later)
    assert claims is (bug == "tick-lease")
    assert (c.status(later)["role"] == "leader") is (bug == "tick-lease")


def test_bad_ranks_are_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        PaxosCore("n1", {"n1": 1, "n2": 1}, random.Random(1), 0.0)
    with pytest.raises(ValueError, match="between"):
        PaxosCore("n1", {"n1": RANKS}, random.Random(1), 0.0)
