"""Unit tests of the pure Raft core, one rule of the paper each, messages delivered by hand."""

from __future__ import annotations

import random
from typing import Any

from chaoskit.targets.raft._core import Entry, HardState, Message, RaftConfig, RaftCore, Ready

IDS = ["n1", "n2", "n3"]


def _core(node: str, bug: str | None = None, **kw: object) -> RaftCore:
    cfg = RaftConfig(election_ticks=10, heartbeat_ticks=3, bug=bug)
    return RaftCore(node, IDS, random.Random(node), cfg, **kw)  # type: ignore[arg-type]


def _campaign(core: RaftCore) -> Ready:
    for _ in range(2 * core.cfg.election_ticks):
        core.tick()
        if core.role == "candidate":
            break
    return core.ready()


def _deliver(cores: dict[str, RaftCore], ready: Ready, rounds: int = 10) -> list[Ready]:
    """Deliver messages breadth-first until quiet; return every drained Ready."""
    seen = [ready]
    pending = list(ready.messages)
    for _ in range(rounds):
        nxt = []
        for msg in pending:
            cores[msg.dst].step(msg)
            out = cores[msg.dst].ready()
            seen.append(out)
            nxt.extend(out.messages)
        pending = nxt
    return seen


def _cluster(bug: str | None = None) -> dict[str, RaftCore]:
    cores = {n: _core(n, bug) for n in IDS}
    _deliver(cores, _campaign(cores["n1"]))
    assert cores["n1"].role == "leader"
    return cores


def test_candidate_with_majority_becomes_leader_and_commits_a_noop() -> None:
    cores = _cluster()
    assert cores["n1"].term == 1
    assert [e.op for e in cores["n1"].log] == [{"f": "noop"}]
    assert cores["n1"].commit == 1
    assert all(c.leader == "n1" and c.term == 1 for c in cores.values())


def test_vote_is_persisted_before_the_answer_and_given_once_per_term() -> None:
    voter = _core("n2")
    voter.step(Message("vote", "n1", "n2", 1))
    out = voter.ready()
    assert out.hard_state == HardState(1, "n1")
    assert out.messages[0].granted
    voter.step(Message("vote", "n3", "n2", 1))
    assert not voter.ready().messages[0].granted


def test_double_vote_bug_grants_a_second_vote_in_the_same_term() -> None:
    voter = _core("n2", bug="double-vote")
    voter.step(Message("vote", "n1", "n2", 1))
    voter.ready()
    voter.step(Message("vote", "n3", "n2", 1))
    assert voter.ready().messages[0].granted


def test_vote_denied_to_a_candidate_with_an_older_log() -> None:
    voter = _core("n2", log=[Entry(2, {"f": "noop"})], hard=HardState(2, None))
    voter.step(Message("vote", "n1", "n2", 3, last_index=5, last_term=1))
    assert not voter.ready().messages[0].granted


def test_forget_vote_bug_never_asks_to_persist_term_or_vote() -> None:
    voter = _core("n2", bug="forget-vote")
    voter.step(Message("vote", "n1", "n2", 4))
    out = voter.ready()
    assert out.messages[0].granted
    assert out.hard_state is None


def test_restart_from_hard_state_keeps_term_and_vote() -> None:
    voter = _core("n2", hard=HardState(4, "n1"))
    voter.step(Message("vote", "n3", "n2", 4))
    assert not voter.ready().messages[0].granted
    assert voter.term == 4


def test_follower_truncates_only_on_conflict() -> None:
    f = _core("n2", log=[Entry(1, {"f": "noop"}), Entry(1, {"f": "put", "key": "k", "value": 1})])
    f.step(
        Message(
            "append", "n1", "n2", 2, prev_index=1, prev_term=1, entries=(Entry(2, {"f": "noop"}),)
        )
    )
    out = f.ready()
    assert [e.term for e in f.log] == [1, 2]
    assert out.log_from == 2 and out.entries == [Entry(2, {"f": "noop"})]
    # A late, reordered copy of an older append must not cut the log back.
    f.step(
        Message(
            "append", "n1", "n2", 2, prev_index=0, prev_term=0, entries=(Entry(1, {"f": "noop"}),)
        )
    )
    assert [e.term for e in f.log] == [1, 2]
    assert f.ready().log_from is None


def test_append_with_a_gap_is_rejected_with_a_hint() -> None:
    f = _core("n2")
    f.step(Message("append", "n1", "n2", 1, prev_index=5, prev_term=1))
    resp = f.ready().messages[0]
    assert not resp.success and resp.hint == 0 and resp.index == 5


def test_leader_commits_old_term_entries_only_through_its_own(  # figure 8
) -> None:
    old = [Entry(1, {"f": "noop"}), Entry(2, {"f": "put", "key": "k", "value": 1})]
    lead = _core("n1", log=old, hard=HardState(3, None))
    lead.tick()
    for _ in range(30):
        lead.tick()
        if lead.role == "candidate":
            break
    lead.ready()
    lead.step(Message("vote_resp", "n2", "n1", lead.term, granted=True))
    assert lead.role == "leader"
    lead.ready()
    lead.step(Message("append_resp", "n2", "n1", lead.term, success=True, index=2))
    assert lead.commit == 0  # index 2 is of term 2: not committed by counting replicas
    lead.step(Message("append_resp", "n2", "n1", lead.term, success=True, index=3))
    assert lead.commit == 3


def test_requests_to_a_follower_name_the_leader() -> None:
    cores = _cluster()
    cores["n2"].request(1, {"f": "get", "key": "k"})
    (reply,) = cores["n2"].ready().replies
    assert reply.kind == "not_leader" and reply.leader == "n1"


def test_put_cas_add_and_reads_through_the_leader() -> None:
    cores = _cluster()
    lead = cores["n1"]
    replies = []
    ops: list[dict[str, Any]] = [
        {"f": "put", "key": "k", "value": 1},
        {"f": "cas", "key": "k", "from": 1, "to": 2},
        {"f": "cas", "key": "k", "from": 1, "to": 3},
        {"f": "cas", "key": "k", "from": 2.0, "to": 3},
        {"f": "add", "key": "s", "element": "x"},
        {"f": "add", "key": "s", "element": "x"},
        {"f": "get", "key": "k"},
        {"f": "read-set", "key": "s"},
    ]
    for rid, op in enumerate(ops):
        lead.request(rid, op)
        for out in _deliver(cores, lead.ready()):
            replies.extend(out.replies)
    by_rid = {r.rid: r for r in replies}
    assert [by_rid[i].kind for i in range(len(ops))] == [
        "ok",
        "ok",
        "mismatch",
        "mismatch",
        "ok",
        "ok",
        "ok",
        "ok",
    ]
    assert by_rid[2].value == 2
    assert by_rid[6].value == 2
    assert by_rid[7].value == ["x"]


def test_read_waits_for_a_majority_to_confirm_leadership() -> None:
    cores = _cluster()
    lead = cores["n1"]
    lead.request(9, {"f": "get", "key": "k"})
    out = lead.ready()
    assert out.replies == []  # not answered from local state
    assert {m.dst for m in out.messages} == {"n2", "n3"}
    first = out.messages[0]
    cores[first.dst].step(first)
    lead.step(cores[first.dst].ready().messages[0])
    (reply,) = lead.ready().replies
    assert reply.kind == "ok" and reply.value is None


def test_stale_read_bug_answers_without_confirmation() -> None:
    cores = _cluster("stale-read")
    cores["n1"].request(9, {"f": "get", "key": "k"})
    assert [r.kind for r in cores["n1"].ready().replies] == ["ok"]


def test_leader_steps_down_on_a_higher_term_unless_bugged() -> None:
    for bug, role in ((None, "follower"), ("no-step-down", "leader")):
        cores = _cluster(bug)
        cores["n1"].step(Message("append_resp", "n2", "n1", 9, index=0))
        assert cores["n1"].role == role


def test_early_ack_bug_acks_before_replication() -> None:
    for bug, acked in ((None, False), ("early-ack", True)):
        cores = _cluster(bug)
        cores["n1"].request(5, {"f": "put", "key": "k", "value": 1})
        assert bool(cores["n1"].ready().replies) is acked


def test_pending_write_becomes_unknown_when_leadership_is_lost() -> None:
    cores = _cluster()
    cores["n1"].request(5, {"f": "put", "key": "k", "value": 1})
    cores["n1"].ready()
    cores["n1"].step(Message("vote", "n3", "n1", 5, last_index=9, last_term=4))
    assert [r.kind for r in cores["n1"].ready().replies] == ["unknown"]


def test_lease_read_bug_trusts_the_clock() -> None:
    cores = _cluster("lease-read")
    lead = cores["n1"]
    lead.tick(100.0)
    for _ in range(3):
        lead.tick(100.0)
    _deliver(cores, lead.ready())
    lead.request(3, {"f": "get", "key": "k"})
    assert [r.kind for r in lead.ready().replies] == ["ok"]
    lead.tick(1000.0)  # the lease ran out on the local clock
    lead.request(4, {"f": "get", "key": "k"})
    assert lead.ready().replies == []
