"""A real 3-node Raft cluster of processes on 127.0.0.1: election, client API, crash."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.targets._node._procs import LocalCluster

pytestmark = pytest.mark.integration


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with LocalCluster("chaoskit.targets.raft", 3, tmp_path, seed=1) as c:
        c.start_all()
        yield c


def _other_leader(c: LocalCluster, old: str) -> str | None:
    leader = c.stable_leader()
    return leader if leader != old else None


def test_one_leader_client_api_and_crash_recovery(cluster: LocalCluster) -> None:
    c = cluster
    leader = c.wait_for(c.stable_leader, timeout=15)
    term = c.status(leader)["term"]  # type: ignore[index]
    url = c.url(leader)

    assert c.http.put(f"{url}/kv/x", json={"value": 1}).json() == {"ok": True}
    assert c.http.get(f"{url}/kv/x").json() == {"value": 1}
    assert c.http.get(f"{url}/kv/never").json() == {"value": None}
    miss = c.http.post(f"{url}/kv/x/cas", json={"from": 0, "to": 2})
    assert (miss.status_code, miss.json()["value"]) == (409, 1)
    assert c.http.post(f"{url}/kv/x/cas", json={"from": 1, "to": 2}).status_code == 200
    assert c.http.post(f"{url}/set/s/add", json={"element": "e1"}).status_code == 200
    assert c.http.get(f"{url}/set/s").json() == {"elements": ["e1"]}

    follower = next(n for n in c.ids if n != leader)
    redirect = c.http.get(f"{c.url(follower)}/kv/x")
    assert redirect.status_code == 421
    assert redirect.json() == {"error": "not leader", "leader": leader}

    c.kill(leader)
    new = c.wait_for(lambda: ((n := c.stable_leader()) and n != leader and n) or None, timeout=15)
    assert c.status(new)["term"] > term  # type: ignore[index]
    assert c.http.get(f"{c.url(new)}/kv/x").json() == {"value": 2}
    assert c.http.put(f"{c.url(new)}/kv/y", json={"value": "after"}).status_code == 200

    c.start(leader)  # restarts from its fsynced term, vote and log, then catches up
    c.wait_for(lambda: c.stable_leader() if all(c.status(n) for n in c.ids) else None, 15)
    back = c.status(leader)
    assert back is not None and back["role"] == "follower"
    assert back["last_log_index"] >= c.status(new)["commit_index"]  # type: ignore[index]

    c.kill(new)  # now the restarted node must hold the data for a majority to serve it
    third = c.wait_for(c.stable_leader, timeout=15)
    assert c.http.get(f"{c.url(third)}/kv/y").json() == {"value": "after"}
    assert c.http.get(f"{c.url(third)}/set/s").json() == {"elements": ["e1"]}
