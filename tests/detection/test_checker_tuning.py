"""The two checker refinements the detection work made, on hand-built streams.

- ``split-brain`` reports a ``term-regression`` (per-term policy): a Raft node whose
  term goes down lost its persisted term and vote (``forget-vote``).
- ``stalled-election`` counts a killed node as down until it answers again after the
  restart, so a slow interpreter start is not an election stall.
"""

from __future__ import annotations

from typing import Any

from chaoskit.checkers.split_brain import SplitBrainChecker
from chaoskit.checkers.stalled_election import StalledElectionChecker
from chaoskit.core.checker import RunData

MS = 1_000_000
NODES = ["n1", "n2", "n3"]


def obs(
    node: str, start_ms: int, end_ms: int, role: str, term: int | None, leader: str | None
) -> list[dict[str, Any]]:
    return [
        {"time": t * MS, "node": node, "role": role, "term": term, "leader": leader, "latency": MS}
        for t in range(start_ms, end_ms, 20)
    ]


def kill(fid: int, start_ms: int, stop_ms: int, *down: str) -> list[dict[str, Any]]:
    return [
        {
            "time": start_ms * MS,
            "type": "start",
            "id": fid,
            "fault": "kill",
            "detail": {},
            "down": list(down),
            "cut": [],
        },
        {"time": stop_ms * MS, "type": "stop", "id": fid, "fault": "kill"},
    ]


def run_of(
    observations: list[dict[str, Any]], nemesis: list[dict[str, Any]], policy: str
) -> RunData:
    records = sorted(observations, key=lambda r: (r["time"], r["node"]))
    return RunData(
        history=[],
        observations=records,
        nemesis=nemesis,
        config={
            "nodes": NODES,
            "policy": policy,
            "election_deadline": 2.0,
            "end_time": records[-1]["time"] + 10 * MS,
        },
        incomplete=False,
    )


def _restart(term_after: int) -> RunData:
    """n1 leads term 3 throughout; n3 is killed at 1 s, restarted at 2 s, answers at 2.5 s."""
    o = obs("n1", 0, 6000, "leader", 3, "n1") + obs("n2", 0, 6000, "follower", 3, "n1")
    o += obs("n3", 0, 1000, "follower", 3, "n1") + obs("n3", 1000, 2500, "down", None, None)
    o += obs("n3", 2500, 2600, "follower", term_after, None) + obs(
        "n3", 2600, 6000, "follower", 3, "n1"
    )
    return run_of(o, kill(1, 1000, 2000, "n3"), "per-term")


def test_a_node_back_with_a_lower_term_is_a_term_regression() -> None:
    result = SplitBrainChecker().check(_restart(term_after=0))
    assert result.valid is False
    [anomaly] = result.anomalies
    assert anomaly["kind"] == "term-regression"
    assert anomaly["nodes"] == ["n3"]
    assert anomaly["terms"] == [3, 0]
    assert anomaly["end"] == 2500 * MS
    assert anomaly["faults"] == ["kill#1"]
    assert anomaly["message"].startswith("n3 went back from term 3 to term 0")


def test_a_node_back_with_its_persisted_term_is_fine() -> None:
    result = SplitBrainChecker().check(_restart(term_after=3))
    assert result.valid is True
    assert result.anomalies == []


def test_term_regression_is_only_a_rule_of_the_per_term_policy() -> None:
    run = _restart(term_after=0)
    run.config["policy"] = "strict"  # a target without persisted terms (e.g. an epoch)
    assert [a["kind"] for a in SplitBrainChecker().check(run).anomalies] == []


def _slow_restart(answer_ms: int, elect: bool = True) -> RunData:
    """n1 and n2 are killed at 1 s and restarted at 2 s; n1 leads again once both answer."""
    o = obs("n1", 0, 1000, "leader", 1, "n1") + obs("n2", 0, 1000, "follower", 1, "n1")
    o += obs("n3", 0, 1000, "follower", 1, "n1") + obs(
        "n3", 1000, answer_ms + 300, "candidate", 2, None
    )
    for node in ("n1", "n2"):
        o += obs(node, 1000, answer_ms, "down", None, None)
    o += obs("n1", answer_ms, answer_ms + 300, "candidate", 2, None)
    o += obs("n2", answer_ms, answer_ms + 300, "follower", 2, None)
    for node in NODES:
        role = "leader" if node == "n1" and elect else "follower"
        o += obs(node, answer_ms + 300, answer_ms + 3000, role, 3, "n1" if elect else None)
    return run_of(o, kill(1, 1000, 2000, "n1", "n2"), "per-term")


def test_a_restarted_node_counts_as_up_only_once_it_answers() -> None:
    # 3.5 s from the restart to the first answer, then 0.3 s to a leader: not a stall.
    result = StalledElectionChecker().check(_slow_restart(answer_ms=5500))
    assert result.valid is True, result.anomalies
    assert result.metrics["max_healthy_leaderless_ms"] <= 300 + 20


def test_a_stall_after_the_nodes_answer_is_still_found() -> None:
    # Both answer 0.1 s after the restart, and nobody leads for the 3 s after that.
    run = _slow_restart(answer_ms=2100, elect=False)
    result = StalledElectionChecker().check(run)
    assert result.valid is False
    [anomaly] = result.anomalies
    assert anomaly["kind"] == "stalled-election"
    assert anomaly["start"] == 2100 * MS
