"""The shared timeline helpers (claims, faults, connectivity, figures) and the stats checker."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.checkers._faults import (
    Connectivity,
    FaultSpan,
    cut_off_intervals,
    describe_faults,
    fault_context,
    faults_during,
    free_stretches,
    read_faults,
    segments,
)
from chaoskit.checkers._timeline import (
    ClaimBuilder,
    Hidden,
    deadline_s,
    find_claims,
    load_timeline,
    node_ids,
    policy_of,
    samples_of,
    sampling_intervals,
)
from chaoskit.checkers.figures import human, percentiles
from chaoskit.checkers.stats import StatsChecker
from chaoskit.core.checker import Checker, RunData
from chaoskit.errors import ConfigError, HistoryFormatError

MS = 1_000_000
FIVE = ["n1", "n2", "n3", "n4", "n5"]


def obs(t_ms: int, node: str, role: str, term: int | None = None) -> dict[str, Any]:
    return {
        "time": t_ms * MS,
        "node": node,
        "role": role,
        "term": term,
        "leader": None,
        "latency": 0,
    }


def cut_between(*groups: list[str]) -> frozenset[tuple[str, str]]:
    return frozenset((a, b) for g in groups for h in groups if g is not h for a in g for b in h)


# -- claims -----------------------------------------------------------------------------


def test_a_claim_ends_at_the_last_answer_before_a_down_one_and_the_gap_is_unobserved() -> None:
    samples = samples_of(
        [
            obs(0, "n1", "leader", 3),
            obs(5, "n1", "leader", 3),
            obs(10, "n1", "down"),
            obs(20, "n1", "leader", 3),
            obs(30, "n1", "follower", 4),
        ]
    )
    builder = ClaimBuilder()
    for s in samples:
        builder.add(s)
    spans = [(c.term, c.start // MS, c.end // MS, c.samples) for c in builder.claims()]
    assert spans == [(3, 0, 5, 2), (3, 20, 20, 1)]
    [gap] = builder.unobserved
    assert (gap.node, gap.term, gap.start // MS, gap.end // MS) == ("n1", 3, 5, 20)
    assert gap.observed is False and gap.to_json()["observed"] is False
    assert find_claims(samples) == builder.claims()


def test_a_gap_is_unobserved_only_when_the_same_term_leads_on_both_sides() -> None:
    def gaps(*answers: tuple[int, str, int | None]) -> list[tuple[int, int]]:
        builder = ClaimBuilder()
        for s in samples_of([obs(t, "n1", role, term) for t, role, term in answers]):
            builder.add(s)
        return [(g.start // MS, g.end // MS) for g in builder.unobserved]

    assert gaps((0, "leader", 1), (10, "down", None), (20, "leader", 2)) == []
    assert gaps((0, "leader", 1), (10, "down", None), (15, "follower", 1), (20, "leader", 1)) == []
    assert gaps((0, "leader", None), (10, "down", None), (20, "leader", None)) == [(0, 20)]


def test_the_fault_log_hides_a_node_it_took_down() -> None:
    pause = FaultSpan(1, "pause", 10 * MS, 20 * MS, frozenset({"n1"}))
    answers = [obs(t, "n1", "leader", 2) for t in (0, 9, 12, 19, 20, 25)]
    builder = ClaimBuilder(Hidden.of([pause]))
    for s in samples_of(answers):
        builder.add(s)
    assert [(c.start // MS, c.end // MS) for c in builder.claims()] == [(0, 9), (20, 25)]
    assert [(g.start // MS, g.end // MS) for g in builder.unobserved] == [(9, 20)]
    # A fault that began and ended between two answers cuts the claim too.
    short = FaultSpan(2, "kill", 3 * MS, 4 * MS, frozenset({"n1"}))
    builder = ClaimBuilder(Hidden.of([short]))
    for s in samples_of([obs(0, "n1", "leader", 2), obs(5, "n1", "leader", 2)]):
        builder.add(s)
    assert [(c.start // MS, c.end // MS) for c in builder.claims()] == [(0, 0), (5, 5)]


def test_hidden_spans_merge_and_a_fault_never_stopped_hides_to_the_end() -> None:
    faults = [
        FaultSpan(1, "pause", 10, 20, frozenset({"a"})),
        FaultSpan(2, "kill", 15, 30, frozenset({"a", "b"})),
        FaultSpan(3, "pause", 50, None, frozenset({"a"})),
    ]
    for hidden in (Hidden.of(faults), _live(faults)):
        assert [hidden.covers("a", t) for t in (9, 10, 25, 30, 49, 50, 10**15)] == [
            False, True, True, False, False, True, True,
        ]  # fmt: skip
        assert hidden.between("a", 30, 49) is False and hidden.between("a", 30, 50) is True
        assert hidden.between("b", 0, 14) is False and hidden.between("b", 28, 40) is True
        assert hidden.between("c", 0, 100) is False


def _live(faults: list[FaultSpan]) -> Hidden:
    hidden = Hidden()
    for f in faults:
        hidden.add(f)
    return hidden


def test_down_and_follower_answers_are_not_claims() -> None:
    samples = samples_of(
        [obs(0, "n1", "down"), obs(10, "n1", "follower", 1), obs(20, "n2", "candidate", 2)]
    )
    assert find_claims(samples) == []


def test_termless_claims_are_runs_of_consecutive_leader_answers() -> None:
    samples = samples_of(
        [
            obs(t, "a", r)
            for t, r in [
                (0, "leader"),
                (10, "leader"),
                (20, "down"),
                (30, "leader"),
                (40, "follower"),
                (50, "leader"),
                (60, "leader"),
            ]
        ]
    )
    claims = find_claims(samples)
    assert [(c.start // MS, c.end // MS) for c in claims] == [(0, 10), (30, 30), (50, 60)]


def test_samples_are_sorted_by_controller_time() -> None:
    samples = samples_of([obs(20, "n1", "leader", 1), obs(10, "n2", "follower", 1)])
    assert [s.time for s in samples] == [10 * MS, 20 * MS]


def test_an_observation_without_time_or_node_is_a_format_error() -> None:
    with pytest.raises(HistoryFormatError, match="no valid time"):
        samples_of([{"node": "n1", "role": "leader"}])
    with pytest.raises(HistoryFormatError, match="names no node"):
        samples_of([{"time": 1, "role": "leader"}])


# -- faults -----------------------------------------------------------------------------


def test_faults_pair_by_id_and_a_start_without_stop_lasts_to_the_end() -> None:
    nemesis = [
        {
            "time": 10,
            "type": "start",
            "id": 1,
            "fault": "partition",
            "down": [],
            "cut": [["n1", "n2"]],
        },
        {"time": 20, "type": "start", "id": 2, "fault": "kill", "down": ["n3"], "cut": []},
        {"time": 30, "type": "stop", "id": 1, "fault": "partition"},
        {"time": 35, "type": "stop", "id": 99, "fault": "kill"},
    ]
    first, second = read_faults(nemesis)
    assert (first.label, first.start, first.stop, first.cut) == (
        "partition#1",
        10,
        30,
        frozenset({("n1", "n2")}),
    )
    assert (second.label, second.stop, second.end(500), second.down) == (
        "kill#2",
        None,
        500,
        frozenset({"n3"}),
    )
    assert first.touches("n2") and not first.touches("n3")
    assert second.touches("n3")


def test_faults_without_ids_pair_by_name_in_order() -> None:
    nemesis = [
        {"time": t, "type": k, "fault": "pause"}
        for t, k in [(10, "start"), (20, "start"), (30, "stop"), (40, "stop")]
    ]
    first, second = read_faults(nemesis)
    assert (first.start, first.stop, second.start, second.stop) == (10, 30, 20, 40)
    assert first.label == "pause"


def test_faults_during_is_inclusive_and_described_for_humans() -> None:
    faults = read_faults(
        [
            {"time": 10, "type": "start", "id": 1, "fault": "partition"},
            {"time": 20, "type": "stop", "id": 1, "fault": "partition"},
            {"time": 15, "type": "start", "id": 2, "fault": "kill"},
        ]
    )
    assert [f.label for f in faults_during(faults, 20, 30, 100)] == ["partition#1", "kill#2"]
    assert [f.label for f in faults_during(faults, 21, 30, 100)] == ["kill#2"]
    assert faults_during(faults, 0, 9, 100) == []
    assert describe_faults(faults) == "during partition#1 and kill#2"
    assert describe_faults([]) == "with no fault active"


def test_fault_context_names_active_faults_and_those_healed_within_the_window() -> None:
    s = 1_000_000_000
    kill = FaultSpan(1, "kill-leader", 0, 10 * s, frozenset({"n1"}))
    part = FaultSpan(2, "partition", 11 * s, 20 * s)
    late = FaultSpan(3, "pause", 30 * s, None, frozenset({"n2"}))
    faults = [kill, part, late]
    ctx = fault_context(faults, 10 * s + 200 * MS, 10 * s + 500 * MS, 40 * s, 5 * s)
    assert ctx.text() == "after kill-leader#1, healed 200 ms before"
    assert ctx.fields() == {
        "faults": [],
        "fault_ids": [],
        "after_faults": [{"fault": "kill-leader#1", "id": 1, "healed_before_ms": 200.0}],
    }
    # A fault active since after the heal tells the anomaly, not the heal.
    during = fault_context(faults, 12 * s, 13 * s, 40 * s, 5 * s)
    assert during.text() == "during partition#2"
    skew = FaultSpan(4, "clock-skew", 0, None)
    after_heal = fault_context([*faults, skew], 10_500 * MS, 10_800 * MS, 40 * s, 5 * s)
    assert after_heal.text() == "during clock-skew#4, after kill-leader#1, healed 500 ms before"
    both = fault_context(faults, 21 * s, 22 * s, 40 * s, 12 * s)
    assert both.text() == "after partition#2 and kill-leader#1, healed 1.00 s and 11.00 s before"
    quiet = fault_context(faults, 26 * s, 27 * s, 40 * s, 5 * s)
    assert quiet.text() == "with no fault active" and quiet.fields()["after_faults"] == []
    assert fault_context(faults, 35 * s, 36 * s, 40 * s, 5 * s).text() == "during pause#3"


def test_free_stretches_fill_the_gaps_between_busy_intervals() -> None:
    busy = [(10, 40), (60, 70)]
    assert free_stretches(0, 100, busy) == [(0, 10), (40, 60), (70, 100)]
    assert free_stretches(15, 65, busy) == [(40, 60)]
    assert free_stretches(12, 38, busy) == []
    assert free_stretches(0, 5, []) == [(0, 5)]


def test_cut_off_intervals_are_where_a_node_is_in_no_connected_majority() -> None:
    faults = [
        FaultSpan(1, "isolate", 10, 30, cut=cut_between(["n1"], ["n2", "n3", "n4", "n5"])),
        FaultSpan(2, "pause", 25, 40, down=frozenset({"n1"})),
        # one link of n1 cut: it is still in the majority {n1, n3, n4}
        FaultSpan(3, "partition", 50, 60, cut=frozenset({("n1", "n2")})),
        FaultSpan(4, "pause", 70, None, down=frozenset({"n1"})),
    ]
    segs = segments(Connectivity(FIVE), faults, 0, 100, 100)
    assert cut_off_intervals("n1", segs) == [(10, 40), (70, 100)]
    assert cut_off_intervals("n2", segs) == []  # always inside {n2, n3, n4, n5}


# -- connectivity -----------------------------------------------------------------------


def test_a_healthy_cluster_is_one_majority() -> None:
    conn = Connectivity(FIVE)
    assert conn.members(frozenset(), frozenset()) == frozenset(FIVE)


def test_halves_leave_the_larger_side_as_the_majority() -> None:
    conn = Connectivity(FIVE)
    members = conn.members(frozenset(), cut_between(["n1", "n2"], ["n3", "n4", "n5"]))
    assert members == frozenset({"n3", "n4", "n5"})


def test_three_ways_split_leaves_no_majority() -> None:
    conn = Connectivity(FIVE)
    assert conn.members(frozenset(), cut_between(["n1", "n2"], ["n3", "n4"], ["n5"])) == set()


def test_majorities_ring_has_no_connected_majority() -> None:
    # Jepsen's ring: every node sees a majority (itself and its two neighbours) but no
    # three nodes all see each other.
    ring = FIVE
    cut = frozenset(
        (a, b)
        for i, a in enumerate(ring)
        for b in ring
        if a != b and b not in (ring[(i + 1) % 5], ring[(i - 1) % 5])
    )
    assert Connectivity(ring).members(frozenset(), cut) == set()


def test_bridge_keeps_a_majority_through_the_bridge_node() -> None:
    cut = cut_between(["n1", "n2"], ["n4", "n5"])
    members = Connectivity(FIVE).members(frozenset(), cut)
    assert members == frozenset(FIVE)  # {n1,n2,n3} and {n3,n4,n5} are both majorities


def test_one_way_cut_breaks_the_link() -> None:
    conn = Connectivity(["a", "b", "c"])
    assert conn.members(frozenset(), frozenset({("a", "b")})) == {"a", "c", "b"}
    assert conn.members(frozenset({"c"}), frozenset({("a", "b")})) == set()


def test_down_nodes_are_not_members() -> None:
    conn = Connectivity(FIVE)
    assert conn.members(frozenset({"n1", "n2"}), frozenset()) == frozenset({"n3", "n4", "n5"})
    assert conn.members(frozenset({"n1", "n2", "n3"}), frozenset()) == set()


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 7), data=st.data())
def test_connectivity_matches_brute_force(n: int, data: st.DataObject) -> None:
    nodes = [f"n{i}" for i in range(n)]
    links = [(a, b) for a in nodes for b in nodes if a != b]
    cut = frozenset(data.draw(st.lists(st.sampled_from(links), unique=True)) if links else [])
    down = frozenset(data.draw(st.lists(st.sampled_from(nodes), unique=True)))
    need = n // 2 + 1
    expected: set[str] = set()
    for size in range(need, n + 1):
        for group in itertools.combinations([x for x in nodes if x not in down], size):
            if all((a, b) not in cut for a in group for b in group if a != b):
                expected |= set(group)
    assert Connectivity(nodes).members(down, cut) == expected


def test_segments_cut_time_at_fault_boundaries() -> None:
    conn = Connectivity(FIVE)
    faults = [FaultSpan(1, "kill", 10, 20, down=frozenset({"n1", "n2", "n3"}))]
    segs = segments(conn, faults, 0, 30, 30)
    assert [(s.start, s.end, s.healthy) for s in segs] == [
        (0, 10, True),
        (10, 20, False),
        (20, 30, True),
    ]


# -- config and figures -----------------------------------------------------------------


def test_deadline_and_policy_come_from_the_config_with_safe_defaults() -> None:
    assert deadline_s({"election_deadline": 3}) == 3.0
    assert deadline_s({}) == 5.0
    assert policy_of({}) == "strict"
    assert policy_of({"policy": "per-term"}) == "per-term"
    for bad in (0, -1, "soon", True):
        with pytest.raises(ConfigError, match="election_deadline"):
            deadline_s({"election_deadline": bad})
    with pytest.raises(ConfigError, match="policy"):
        policy_of({"policy": "loose"})


def test_node_ids_from_a_list_or_padded_to_a_count() -> None:
    samples = samples_of([obs(0, "n2", "leader", 1)])
    assert node_ids({"nodes": ["a", "b"]}, samples, []) == ["a", "b"]
    assert node_ids({"nodes": 3}, samples, []) == ["n2", "n1", "n3"]
    assert node_ids({}, samples, []) == ["n2"]


def test_percentiles_use_nearest_rank() -> None:
    assert percentiles([]) == {"count": 0, "p50": None, "p99": None, "max": None}
    figures = percentiles([float(v) for v in range(1, 101)])
    assert figures == {"count": 100, "p50": 50.0, "p99": 99.0, "max": 100.0}
    assert percentiles([7.0]) == {"count": 1, "p50": 7.0, "p99": 7.0, "max": 7.0}


def test_sampling_intervals_per_node() -> None:
    samples = samples_of(
        [obs(t, "n1", "leader", 1) for t in (0, 20, 40, 100)]
        + [obs(t, "n2", "follower", 1) for t in (5, 15)]
    )
    figures = sampling_intervals(samples)
    assert figures["per_node"]["n1"] == {"count": 3, "p50": 20.0, "p99": 60.0, "max": 60.0}
    assert figures["per_node"]["n2"]["max"] == 10.0
    assert figures["count"] == 4


def test_human_durations() -> None:
    assert human(412 * MS) == "412 ms"
    assert human(2_400 * MS) == "2.40 s"
    assert human(2.5 * MS) == "2.5 ms"


def test_load_timeline_ends_at_end_time_or_the_last_record() -> None:
    run = RunData(
        history=[],
        observations=[obs(50, "n1", "leader", 1)],
        nemesis=[{"time": 80 * MS, "type": "start", "id": 1, "fault": "kill"}],
        config={"nodes": ["n1"]},
    )
    tl = load_timeline(run)
    assert (tl.first, tl.last, tl.end) == (50 * MS, 50 * MS, 80 * MS)
    run.config["end_time"] = 90 * MS
    assert load_timeline(run).end == 90 * MS


# -- the stats checker ------------------------------------------------------------------


def test_stats_counts_ops_observations_and_faults_and_is_always_valid() -> None:
    history = [
        {"type": "invoke", "f": "read"},
        {"type": "ok", "f": "read"},
        {"type": "invoke", "f": "write"},
        {"type": "info", "f": "write"},
        {"type": "invoke", "f": "write"},
        {"type": "fail", "f": "write"},
    ]
    observations = [obs(t, "n1", "leader", 2) for t in range(0, 100, 25)]
    observations += [obs(t + 1, "n2", "down") for t in range(0, 100, 50)]
    nemesis = [
        {"time": 10 * MS, "type": "start", "id": 1, "fault": "kill", "down": ["n2"], "cut": []},
        {"time": 60 * MS, "type": "stop", "id": 1, "fault": "kill"},
        {
            "time": 70 * MS,
            "type": "start",
            "id": 2,
            "fault": "partition",
            "down": [],
            "cut": [["n1", "n2"], ["n2", "n1"]],
        },
    ]
    run = RunData(
        history=history,
        observations=observations,
        nemesis=nemesis,
        config={"nodes": ["n1", "n2"], "end_time": 120 * MS},
        incomplete=True,
    )
    checker = StatsChecker()
    assert isinstance(checker, Checker) and checker.name == "stats"
    result = checker.check(run)
    assert result.valid is True
    m = result.metrics
    assert m["ops"]["total"] == 6
    assert m["ops"]["by_type"] == {"fail": 1, "info": 1, "invoke": 3, "ok": 1}
    assert m["ops"]["by_f"]["write"] == {"fail": 1, "info": 1, "invoke": 2}
    assert m["observations"]["by_node"] == {"n1": {"leader": 4}, "n2": {"down": 2}}
    assert m["observations"]["claims"] == 1 and m["observations"]["max_term"] == 2
    assert m["sampling_interval_ms"]["per_node"]["n1"]["p50"] == 25.0
    assert m["faults"]["total"] == 2 and m["faults"]["never_stopped"] == 1
    assert m["faults"]["by_fault"]["kill"]["total_ms"] == 50.0
    assert m["faults"]["applied"][1]["duration_ms"] == 50.0  # to end_time
    assert m["faults"]["applied"][1]["cut"] == 2
    assert m["duration_ms"] == 120.0
    assert m["incomplete"] is True
