"""The stalled-election checker on hand-built streams: one test per rule, plus properties."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.checkers.stalled_election import StalledElectionChecker
from chaoskit.core.checker import Checker, RunData

MS = 1_000_000
NODES = ["n1", "n2", "n3", "n4", "n5"]
Answer = tuple[str, int | None, str | None]


def led(leader: str, term: int | None, nodes: Sequence[str] = NODES) -> dict[str, Answer]:
    """Everyone agrees ``leader`` leads ``term``."""
    return {n: ("leader" if n == leader else "follower", term, leader) for n in nodes}


def nobody(term: int | None, nodes: Sequence[str] = NODES) -> dict[str, Answer]:
    """An election in progress: every node a candidate."""
    return {n: ("candidate", term, None) for n in nodes}


def cluster(
    changes: Sequence[tuple[int, dict[str, Answer]]],
    end_ms: int,
    *,
    nodes: Sequence[str] = NODES,
    every_ms: int = 25,
) -> list[dict[str, Any]]:
    """Sample every node every ``every_ms`` (node i shifted by 2*i ms) until ``end_ms``.

    ``changes`` are (time, answers) from that time on; a node not named keeps its answer.
    """
    obs: list[dict[str, Any]] = []
    for i, node in enumerate(nodes):
        own = [(t, a[node]) for t, a in sorted(changes, key=lambda c: c[0]) if node in a]
        for t in range(0, end_ms, every_ms):
            now = t + 2 * i
            current = [a for start, a in own if start <= now]
            role, term, leader = current[-1] if current else ("down", None, None)
            obs.append(
                {
                    "time": now * MS,
                    "node": node,
                    "role": role,
                    "term": term,
                    "leader": leader,
                    "latency": MS,
                }
            )
    return obs


def fault(
    fid: int,
    name: str,
    start_ms: int,
    stop_ms: int | None,
    *,
    down: Iterable[str] = (),
    groups: Sequence[Sequence[str]] = (),
) -> list[dict[str, Any]]:
    cut = [[a, b] for g in groups for h in groups if g is not h for a in g for b in h]
    recs: list[dict[str, Any]] = [
        {
            "time": start_ms * MS,
            "type": "start",
            "id": fid,
            "fault": name,
            "detail": {},
            "down": list(down),
            "cut": cut,
        }
    ]
    if stop_ms is not None:
        recs.append({"time": stop_ms * MS, "type": "stop", "id": fid, "fault": name})
    return recs


def run_of(
    obs: list[dict[str, Any]],
    nemesis: Iterable[dict[str, Any]] = (),
    *,
    deadline: float = 2.0,
    incomplete: bool = False,
    nodes: Sequence[str] = NODES,
    end_time: int | None = None,
) -> RunData:
    obs = sorted(obs, key=lambda r: r["time"])
    return RunData(
        history=[],
        observations=obs,
        nemesis=list(nemesis),
        config={
            "nodes": list(nodes),
            "policy": "per-term",
            "election_deadline": deadline,
            "end_time": end_time if end_time is not None else obs[-1]["time"] + 50 * MS,
        },
        incomplete=incomplete,
    )


def check(run: RunData) -> Any:
    return StalledElectionChecker().check(run)


def test_is_a_checker_with_a_name() -> None:
    checker = StalledElectionChecker()
    assert isinstance(checker, Checker)
    assert checker.name == "stalled-election"
    assert checker.description


def test_steady_leader_is_valid_and_first_leader_is_measured() -> None:
    obs = cluster([(0, nobody(1)), (400, led("n1", 1))], 3000)
    result = check(run_of(obs))
    assert result.valid is True
    assert result.anomalies == []
    assert result.metrics["first_leader_ms"] == 400.0
    assert result.metrics["leaderless_ms"]["count"] == 0


def test_no_leader_while_no_majority_is_connected_is_not_an_anomaly() -> None:
    changes = [(0, led("n1", 1)), (1100, nobody(2)), (6500, led("n3", 3))]
    nemesis = fault(1, "partition", 1000, 6000, groups=[["n1", "n2"], ["n3", "n4"], ["n5"]])
    result = check(run_of(cluster(changes, 9000), nemesis))
    assert result.valid is True
    assert result.metrics["leaderless_ms"]["max"] == pytest.approx(5400, abs=30)
    # only the time after the heal counts: about half a second
    assert result.metrics["max_healthy_leaderless_ms"] == pytest.approx(500, abs=30)


def test_no_leader_while_a_majority_is_connected_is_an_anomaly_naming_the_fault() -> None:
    changes = [(0, led("n1", 1)), (1100, nobody(2)), (5000, led("n2", 3))]
    nemesis = fault(1, "partition", 1000, 9000, groups=[["n1"], ["n2", "n3", "n4", "n5"]])
    result = check(run_of(cluster(changes, 9500), nemesis))
    assert result.valid is False
    [anomaly] = result.anomalies
    assert anomaly["kind"] == "stalled-election"
    assert anomaly["nodes"] == ["n2", "n3", "n4", "n5"]
    assert anomaly["faults"] == ["partition#1"]
    assert anomaly["terms"] == [2, 3]
    assert anomaly["start"] == 1100 * MS
    assert anomaly["end"] == 5002 * MS
    assert anomaly["duration_ms"] == 3902.0
    assert anomaly["message"] == (
        "no leader for 3.90 s while a majority (n2, n3, n4, n5) was up and connected "
        "(deadline 2 s) during partition#1"
    )


def test_a_node_killed_during_the_stall_is_not_named_as_up_and_connected() -> None:
    # All five up when the leader goes, then n3 is killed: the majority stays healthy
    # (n1, n2, n4, n5) all along, and only they were up and connected throughout.
    changes = [(0, led("n1", 1)), (1100, nobody(2)), (7000, led("n2", 3))]
    nemesis = fault(1, "kill", 3000, None, down=["n3"])
    [anomaly] = check(run_of(cluster(changes, 8000), nemesis)).anomalies
    assert anomaly["nodes"] == ["n1", "n2", "n4", "n5"]
    assert "majority (n1, n2, n4, n5) was up and connected" in anomaly["message"]
    assert "kill#1" in anomaly["message"]


def test_a_majority_that_changed_during_the_stall_names_only_its_constant_members() -> None:
    # n4 and n5 cut off, then n1 and n2 instead at the same instant: a healthy majority
    # all along ({n1, n2, n3}, then {n3, n4, n5}), but only n3 belonged to it throughout.
    changes = [(0, led("n1", 1)), (1100, nobody(2)), (9000, led("n3", 3))]
    nemesis = [
        *fault(1, "partition", 1000, 4000, groups=[["n1", "n2", "n3"], ["n4"], ["n5"]]),
        *fault(2, "partition", 4000, None, groups=[["n3", "n4", "n5"], ["n1"], ["n2"]]),
    ]
    [anomaly] = check(run_of(cluster(changes, 10000), nemesis)).anomalies
    assert anomaly["nodes"] == ["n3"]
    assert (
        "while a majority was up and connected (its members changed; throughout: n3)"
        in (anomaly["message"])
    )


def test_a_heal_restarts_the_clock() -> None:
    changes = [(0, led("n1", 1)), (1000, nobody(2)), (9000, led("n1", 3))]
    nemesis = fault(1, "partition", 2500, 7500, groups=[["n1", "n2"], ["n3", "n4"], ["n5"]])
    result = check(run_of(cluster(changes, 10000), nemesis))
    assert result.valid is True
    assert result.metrics["max_healthy_leaderless_ms"] == pytest.approx(1500, abs=30)


def test_down_nodes_leave_no_majority() -> None:
    changes = [(0, led("n1", 1)), (1000, nobody(2)), (8000, led("n1", 3))]
    nemesis = fault(1, "kill", 900, 7900, down=["n3", "n4", "n5"])
    assert check(run_of(cluster(changes, 9000), nemesis)).valid is True
    nemesis = fault(1, "kill", 900, 7900, down=["n4", "n5"])
    assert check(run_of(cluster(changes, 9000), nemesis)).valid is False


def test_the_first_election_counts_against_the_deadline() -> None:
    obs = cluster([(0, nobody(1)), (3000, led("n1", 1))], 4000)
    result = check(run_of(obs, deadline=2.0))
    [anomaly] = result.anomalies
    assert anomaly["initial"] is True
    assert anomaly["start"] == 4 * MS  # the third of five nodes answered
    assert "at start-up" in anomaly["message"]
    relaxed = check(run_of(obs, deadline=5.0))
    assert relaxed.valid is True
    assert relaxed.metrics["first_leader_ms"] == 3000.0


def test_start_up_counts_from_when_a_majority_of_nodes_answered() -> None:
    booting: dict[str, Answer] = {n: ("down", None, None) for n in NODES}
    changes: list[tuple[int, dict[str, Answer]]] = [
        (0, booting),
        (2500, nobody(1)),
        (3500, led("n1", 1)),
    ]
    result = check(run_of(cluster(changes, 5000), deadline=2.0))
    assert result.valid is True
    assert result.metrics["first_leader_ms"] == 3500.0
    assert result.metrics["cluster_up_ms"] == 2504.0
    never = check(run_of(cluster([(0, booting)], 5000), deadline=2.0))
    assert never.valid == "unknown"
    assert never.anomalies == []
    assert never.metrics["cluster_up_ms"] is None
    assert "never answered" in never.metrics["note"]


def test_a_window_open_at_the_end_counts_what_was_observed() -> None:
    obs = cluster([(0, led("n1", 1)), (2000, nobody(2))], 6000)
    [anomaly] = check(run_of(obs)).anomalies
    assert anomaly["open"] is True
    assert anomaly["end"] == obs[-1]["time"]
    assert "still leaderless when observation ended" in anomaly["message"]


def test_observations_after_end_time_are_ignored() -> None:
    obs = cluster([(0, led("n1", 1)), (2000, nobody(2))], 9000)
    assert check(run_of(obs, end_time=3000 * MS)).valid is True
    assert check(run_of(obs, end_time=8000 * MS)).valid is False


def test_failover_after_isolating_the_leader_and_after_each_heal() -> None:
    changes: list[tuple[int, dict[str, Answer]]] = [(0, led("n1", 1))]
    nemesis: list[dict[str, Any]] = []
    leader, term = "n1", 1
    delays = [300, 600, 900]
    for i, delay in enumerate(delays):
        base = 1000 + i * 5000
        new = NODES[i + 1]
        nemesis += fault(
            i + 1,
            "partition",
            base,
            base + 3000,
            groups=[[leader], [n for n in NODES if n != leader]],
        )
        answers = led(new, term + 1)
        answers[leader] = ("leader", term, leader)  # the stale leader does not know yet
        changes.append((base + delay, answers))
        changes.append((base + 3100, led(new, term + 1)))
        leader, term = new, term + 1
    result = check(run_of(cluster(changes, 17000), nemesis))
    assert result.valid is True
    events = result.metrics["failovers"]
    starts = [e for e in events if e["event"] == "start"]
    heals = [e for e in events if e["event"] == "heal"]
    assert [e["fault"] for e in starts] == ["partition#1", "partition#2", "partition#3"]
    assert [e["leader_before"] for e in starts] == ["n1", "n2", "n3"]
    assert [e["leader"] for e in starts] == ["n2", "n3", "n4"]
    # a new streak is stable at its third sample: delay + 2 samples + the node's shift
    for event, delay, shift in zip(starts, delays, (2, 4, 6), strict=True):
        assert event["failover_ms"] == pytest.approx(delay + 50 + shift, abs=1)
    # after a heal the leader already in place is confirmed by its next answer
    assert all(0 < e["failover_ms"] <= 25 for e in heals)
    figures = result.metrics["failover_ms"]
    assert figures["count"] == 6
    assert figures["max"] == pytest.approx(956, abs=1)
    assert figures["p50"] <= 25
    assert result.metrics["failover_unresolved"] == 0


def test_a_fault_start_that_spares_the_leader_is_no_failover_event() -> None:
    changes = [(0, led("n1", 1))]
    nemesis = fault(1, "partition", 1000, 2000, groups=[["n5"], ["n1", "n2", "n3", "n4"]])
    events = check(run_of(cluster(changes, 3000), nemesis)).metrics["failovers"]
    assert [e["event"] for e in events] == ["heal"]


def test_failover_waits_for_a_majority_to_agree() -> None:
    changes: list[tuple[int, dict[str, Answer]]] = [
        (0, led("n1", 1)),
        (1000, nobody(2)),
        (1200, {"n2": ("leader", 2, "n2")}),
        (1700, led("n2", 2)),
    ]
    nemesis = fault(1, "kill", 900, 1100, down=["n1"])
    events = check(run_of(cluster(changes, 3000), nemesis)).metrics["failovers"]
    assert [e["event"] for e in events] == ["start", "heal"]
    assert events[0]["failover_ms"] == pytest.approx(1704 - 900, abs=1)
    assert events[1]["failover_ms"] == pytest.approx(1704 - 1100, abs=1)


def test_a_failover_that_never_ends_is_unresolved() -> None:
    changes = [(0, led("n1", 1)), (1000, nobody(2))]
    nemesis = fault(1, "kill", 900, 1100, down=["n1"])
    result = check(run_of(cluster(changes, 2500), nemesis))
    assert result.metrics["failover_unresolved"] == 2
    assert result.metrics["failover_ms"]["count"] == 0


def test_termless_targets_are_checked_too() -> None:
    nodes = ["a", "b", "c"]
    changes = [
        (0, led("a", None, nodes)),
        (1000, nobody(None, nodes)),
        (4000, led("b", None, nodes)),
    ]
    result = check(run_of(cluster(changes, 5000, nodes=nodes), nodes=nodes))
    [anomaly] = result.anomalies
    assert anomaly["terms"] == []
    assert anomaly["nodes"] == nodes


def test_incomplete_run_without_anomalies_is_unknown_and_with_one_is_false() -> None:
    clean = cluster([(0, led("n1", 1))], 2000)
    assert check(run_of(clean, incomplete=True)).valid == "unknown"
    stalled = cluster([(0, led("n1", 1)), (500, nobody(2))], 4000)
    assert check(run_of(stalled, incomplete=True)).valid is False


def test_no_observations_is_unknown() -> None:
    run = RunData(history=[], observations=[], nemesis=[], config={"nodes": NODES})
    result = check(run)
    assert result.valid == "unknown"
    assert result.metrics["sampling_interval_ms"]["count"] == 0


# -- properties -------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.tuples(st.integers(100, 3000), st.integers(50, 1900)), max_size=5),
    every=st.sampled_from([10, 25, 50]),
)
def test_gaps_shorter_than_the_deadline_never_stall(
    gaps: list[tuple[int, int]], every: int
) -> None:
    changes: list[tuple[int, dict[str, Answer]]] = [(0, led("n1", 1))]
    clock, term = 0, 1
    for lead_ms, gap_ms in gaps:
        clock += lead_ms
        changes.append((clock, nobody(term + 1)))
        clock += gap_ms
        term += 2
        changes.append((clock, led(NODES[term % 5], term)))
    result = check(run_of(cluster(changes, clock + 500, every_ms=every), deadline=2.0))
    assert result.anomalies == []


@settings(max_examples=60, deadline=None)
@given(lead=st.integers(100, 2000), gap=st.integers(2200, 6000), every=st.sampled_from([10, 25]))
def test_a_gap_longer_than_the_deadline_with_a_majority_always_stalls(
    lead: int, gap: int, every: int
) -> None:
    changes = [(0, led("n1", 1)), (lead, nobody(2)), (lead + gap, led("n2", 3))]
    result = check(run_of(cluster(changes, lead + gap + 500, every_ms=every), deadline=2.0))
    [anomaly] = result.anomalies
    assert anomaly["duration_ms"] == pytest.approx(gap, abs=2 * every + 10)
