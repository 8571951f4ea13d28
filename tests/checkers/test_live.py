"""The live checks: each anomaly as soon as the records prove it, and the same finding
as the offline check of the whole run (which is the authority)."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chaoskit.checkers.checking import run_checkers
from chaoskit.checkers.live import LiveChecker, replay, unconfirmed
from chaoskit.checkers.lost_writes import LostWritesChecker
from chaoskit.checkers.split_brain import SplitBrainChecker
from chaoskit.checkers.stalled_election import StalledElectionChecker
from chaoskit.core.checker import RunData

MS = 1_000_000
NODES = ["n1", "n2", "n3", "n4", "n5"]
CHECKERS = {
    "split-brain": SplitBrainChecker(),
    "stalled-election": StalledElectionChecker(),
    "lost-writes": LostWritesChecker(),
}


def obs(t_ms: float, node: str, role: str, term: int | None = None) -> dict[str, Any]:
    return {
        "time": int(t_ms * MS),
        "node": node,
        "role": role,
        "term": term,
        "leader": node if role == "leader" else None,
        "latency": 1 * MS,
    }


def config(policy: str = "per-term", deadline: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"nodes": NODES, "policy": policy, "election_deadline": deadline, **extra}


def everyone(t_ms: float, roles: dict[str, tuple[str, int | None]]) -> list[dict[str, Any]]:
    """One sample of every node at ``t_ms`` (1 ms apart, in node order)."""
    return [obs(t_ms + i, n, *roles.get(n, ("follower", 1))) for i, n in enumerate(NODES)]


def feed(live: LiveChecker, observations: list[dict[str, Any]]) -> list[int]:
    """Feed observations in order; the time at which each new anomaly appeared."""
    found: list[int] = []
    for rec in observations:
        before = len(live.anomalies)
        live.observation(rec)
        found += [rec["time"]] * (len(live.anomalies) - before)
    return found


def offline(run: RunData) -> dict[str, Any]:
    names = [n for n in CHECKERS if n != "lost-writes" or run.history]
    return run_checkers(run, {n: CHECKERS[n] for n in names})


def test_a_split_brain_is_reported_on_the_sample_that_shows_the_overlap() -> None:
    stream: list[dict[str, Any]] = []
    for t in range(0, 1000, 20):
        roles = {"n1": ("leader", 3)}
        if t >= 400:
            roles["n2"] = ("leader", 3)  # a second leader of term 3 from 400 ms
        stream += everyone(t, roles)
    live = LiveChecker(config(), ["split-brain"])
    found = feed(live, stream)
    first = live.anomalies[0]
    assert first["kind"] == "split-brain" and first["nodes"] == ["n1", "n2"]
    assert first["start"] == 401 * MS  # n2's first leader sample
    assert found[0] == 420 * MS  # n1's next sample: both claims now overlap
    assert first["found_at"] == found[0]
    run = RunData([], stream, [], config())
    results = offline(run)
    assert unconfirmed(live.anomalies, results) == []
    episode = results["checkers"]["split-brain"]["anomalies"][0]
    assert episode["start"] == first["start"] and episode["nodes"] == first["nodes"]


def test_one_episode_is_one_live_anomaly() -> None:
    stream: list[dict[str, Any]] = []
    for t in range(0, 3000, 20):
        flap = (t // 100) % 2 == 0  # n2 claims term 3 on and off: one episode
        roles = {"n1": ("leader", 3), "n2": ("leader" if flap else "follower", 3)}
        stream += everyone(t, roles)
    live = LiveChecker(config(policy="strict"), ["split-brain"])
    feed(live, stream)
    assert [a["kind"] for a in live.anomalies] == ["split-brain"]


def test_per_term_rules_are_reported_live() -> None:
    def at(t: int, **roles: tuple[str, int]) -> list[dict[str, Any]]:
        return everyone(t, {n: roles.get(n, ("follower", 2)) for n in NODES})

    stream = at(0, n1=("leader", 2)) + at(100, n1=("leader", 2)) + at(200)
    stream += at(300, n2=("leader", 2))  # term 2 again, by another node: not yet proven
    live = LiveChecker(config(), ["split-brain"])
    feed(live, stream)
    assert live.anomalies == []
    found = feed(live, at(400, n2=("leader", 2)))  # n1 answers: it had stopped leading
    assert [a["kind"] for a in live.anomalies] == ["election-safety"]
    assert found == [400 * MS]
    stream += at(400, n2=("leader", 2)) + at(500, n2=("leader", 2), n4=("follower", 1))
    live = LiveChecker(config(), ["split-brain"])
    feed(live, stream)
    assert sorted(a["kind"] for a in live.anomalies) == ["election-safety", "term-regression"]
    assert unconfirmed(live.anomalies, offline(RunData([], stream, [], config())), 0) == []


def test_a_stalled_election_is_reported_once_past_the_deadline() -> None:
    stream = everyone(0, {"n1": ("leader", 1)})
    for t in range(20, 3000, 20):
        stream += everyone(t, {n: ("candidate", 2) for n in NODES})
    live = LiveChecker(config(deadline=1.0), ["stalled-election"])
    found = feed(live, stream)
    assert [a["kind"] for a in live.anomalies] == ["stalled-election"]
    window = live.anomalies[0]
    assert window["start"] == 20 * MS
    assert 1020 * MS < found[0] <= 1100 * MS  # just past the deadline
    assert unconfirmed(live.anomalies, offline(RunData([], stream, [], config()))) == []


def test_no_stall_while_no_majority_is_connected() -> None:
    cut = [[a, b] for a in NODES for b in NODES if a != b]
    start = {"time": 10 * MS, "type": "start", "id": 1, "fault": "partition", "cut": cut}
    live = LiveChecker(config(deadline=0.5), ["stalled-election"])
    live.fault(start)
    for t in range(20, 2000, 20):
        feed(live, everyone(t, {n: ("candidate", 2) for n in NODES}))
    assert live.anomalies == []


def test_lost_writes_are_reported_at_the_final_read() -> None:
    history = [
        {"type": "invoke", "f": "add", "process": 0, "value": 1, "time": 1},
        {"type": "ok", "f": "add", "process": 0, "value": 1, "time": 2},
        {"type": "invoke", "f": "add", "process": 0, "value": 2, "time": 3},
        {"type": "ok", "f": "add", "process": 0, "value": 2, "time": 4},
        {"type": "invoke", "f": "read-set", "process": 1, "value": None, "time": 5},
        {"type": "ok", "f": "read-set", "process": 1, "value": [1], "time": 6},
    ]
    live = LiveChecker(config(), ["lost-writes"])
    for rec in history[:-1]:
        live.history(rec)
    assert live.anomalies == []
    live.history(history[-1])
    assert [(a["kind"], a["elements"][0], a["found_at"]) for a in live.anomalies] == [
        ("lost-write", 2, 6)
    ]
    results = run_checkers(RunData(history, [], [], config()), {"lost-writes": LostWritesChecker()})
    assert unconfirmed(live.anomalies, results) == []


def test_live_lost_writes_name_the_same_faults_as_the_offline_check() -> None:
    """The add of 2 is acknowledged while n1 is killed and the add of 3 a moment before
    n2 is: each stretch names its fault, live as offline (where the fault log is read)."""
    nemesis = [
        {"time": 3 * MS, "type": "start", "id": 1, "fault": "kill", "down": ["n1"]},
        {"time": 5 * MS, "type": "stop", "id": 1, "fault": "kill"},
        {"time": 2600 * MS, "type": "start", "id": 2, "fault": "kill", "down": ["n2"]},
        {"time": 2700 * MS, "type": "stop", "id": 2, "fault": "kill"},
    ]
    history = [
        {"type": "invoke", "f": "add", "process": 0, "value": 2, "time": 1 * MS},
        {"type": "ok", "f": "add", "process": 0, "value": 2, "time": 4 * MS},
        {"type": "invoke", "f": "add", "process": 0, "value": 3, "time": 2000 * MS},
        {"type": "ok", "f": "add", "process": 0, "value": 3, "time": 2100 * MS},
        {"type": "invoke", "f": "read-set", "process": 1, "value": None, "time": 4000 * MS},
        {"type": "ok", "f": "read-set", "process": 1, "value": [], "time": 4001 * MS},
    ]
    live = LiveChecker(config(), ["lost-writes"])
    for rec in sorted(nemesis + history, key=lambda r: r["time"]):
        (live.fault if "fault" in rec else live.history)(rec)
    results = run_checkers(
        RunData(history, [], nemesis, config()), {"lost-writes": LostWritesChecker()}
    )
    offline_anomalies = results["checkers"]["lost-writes"]["anomalies"]
    keys = ("elements", "faults", "fault_ids", "after_faults", "before_faults", "message")
    told = [{k: a.get(k) for k in keys} for a in live.anomalies]
    assert told == [{k: a.get(k) for k in keys} for a in offline_anomalies]
    assert [a["fault_ids"] for a in live.anomalies] == [[1], []]
    assert live.anomalies[1]["before_faults"][0]["id"] == 2


def test_a_crashing_live_check_stops_quietly(caplog: pytest.LogCaptureFixture) -> None:
    live = LiveChecker(config(), ["split-brain", "stalled-election"])
    live.observation({"node": "n1", "role": "leader"})  # no time: not a record
    assert live.error is not None and "time" in live.error
    live.observation(obs(10, "n1", "leader", 1))  # ignored from now on
    assert live.anomalies == []


def test_only_the_checkers_of_the_run_run_live() -> None:
    assert LiveChecker(config(), ["stats", "lost-writes"]).checkers == ["lost-writes"]


# -- the property: whatever the streams, the offline check confirms every live anomaly --

ROLES = st.sampled_from(["leader", "leader", "follower", "candidate", "down"])


@st.composite
def runs(draw: st.DrawFn) -> RunData:
    n = draw(st.integers(3, 5))
    nodes = NODES[:n]
    termed = draw(st.booleans())
    observations: list[dict[str, Any]] = []
    terms = dict.fromkeys(nodes, 1)
    t = 0
    for _ in range(draw(st.integers(10, 120))):
        t += draw(st.integers(1, 60))
        node = draw(st.sampled_from(nodes))
        if draw(st.integers(0, 9)) == 0:
            terms[node] = max(0, terms[node] + draw(st.integers(-1, 2)))
        term = terms[node] if termed else None
        observations.append(obs(t, node, draw(ROLES), term))
    nemesis: list[dict[str, Any]] = []
    for fid in range(draw(st.integers(0, 3))):
        start = draw(st.integers(0, t))
        stop = start + draw(st.integers(1, 800))
        victims = draw(st.lists(st.sampled_from(nodes), max_size=2, unique=True))
        down = victims if draw(st.booleans()) else []
        cut = [] if down else [[a, b] for a in victims for b in nodes if a != b]
        nemesis.append(
            {"time": start * MS, "type": "start", "id": fid, "fault": "f", "down": down, "cut": cut}
        )
        if stop <= t:
            nemesis.append({"time": stop * MS, "type": "stop", "id": fid, "fault": "f"})
    policy = draw(st.sampled_from(["strict", "per-term"]))
    cfg = {"nodes": nodes, "policy": policy, "election_deadline": 0.3, "end_time": t * MS}
    return RunData([], observations, nemesis, cfg)


@settings(max_examples=int(os.environ.get("LIVE_EXAMPLES", "100")), deadline=None)
@given(runs())
def test_every_live_anomaly_is_found_offline(run: RunData) -> None:
    live = replay(run, ["split-brain", "stalled-election"])
    results = offline(run)
    assert unconfirmed(live, results, tolerance_ns=0) == [], results
