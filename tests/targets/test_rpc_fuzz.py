"""Hostile and malformed requests against real node processes: 4xx, never a crash.

Hypothesis throws arbitrary JSON, wrong types, unknown ids and raw bytes at ``/peer``
and the client endpoints of a Raft node and at a Bully node; every answer must be
below 500, the node must keep answering ``/status``, and the Raft node's data
directory must still load after a SIGKILL (no corrupt state).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chaoskit.targets._node._procs import LocalCluster
from chaoskit.targets.raft._core import MESSAGE_TYPES
from chaoskit.targets.raft._storage import Storage

pytestmark = pytest.mark.integration

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
ids = st.sampled_from(["n1", "n2", "n3", "n9", "", "N2"]) | st.text(max_size=5) | json_values
numbers = st.integers(min_value=-(2**70), max_value=2**70) | json_values
raft_messages = st.fixed_dictionaries(
    {"from": ids, "to": ids},
    optional={
        "type": st.sampled_from([*MESSAGE_TYPES, "x"]) | json_values,
        "term": numbers,
        "last_index": numbers,
        "last_term": numbers,
        "granted": st.booleans() | json_values,
        "prev_index": numbers,
        "prev_term": numbers,
        "commit": numbers,
        "round": numbers,
        "success": st.booleans() | json_values,
        "index": numbers,
        "hint": numbers,
        "entries": st.lists(
            st.fixed_dictionaries(
                {"term": numbers},
                optional={
                    "op": st.fixed_dictionaries(
                        {"f": st.sampled_from(["noop", "put", "cas", "add", "get"]) | json_values},
                        optional={
                            "key": json_values,
                            "value": json_values,
                            "from": json_values,
                            "to": json_values,
                            "element": json_values,
                        },
                    )
                },
            )
            | json_values,
            max_size=3,
        )
        | json_values,
        "epoch": numbers,
    },
)
raw_bodies = st.binary(max_size=200) | st.sampled_from(
    [
        b"[" * 5000,
        b'{"a":' * 3000,
        b"NaN",
        b'{"from": "n2", "to": "n1", "term": Infinity}',
        b"\xff\xfe",
        b"",
        b"null",
        b"0" * 70000,
    ]
)
client_calls = st.tuples(
    st.sampled_from(["GET", "PUT", "POST", "DELETE"]),
    st.sampled_from(
        [
            "/kv/k",
            "/kv/k/cas",
            "/set/s/add",
            "/set/s",
            "/kv/" + "k" * 600,
            "/kv/%00",
            "/status",
            "/peer",
            "/nope",
        ]
    ),
    st.one_of(json_values.map(lambda v: ("json", v)), raw_bodies.map(lambda b: ("raw", b))),
)


def _post(http: httpx.Client, url: str, body: Any) -> int:
    if isinstance(body, bytes):
        return http.post(url, content=body).status_code
    return http.post(url, json=body).status_code


@pytest.fixture(scope="module")
def raft(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    # n1 alone is up: n2 and n3 are known ids whose messages it must validate.
    c = LocalCluster("chaoskit.targets.raft", 3, tmp_path_factory.mktemp("fuzz-raft"), seed=2)
    with c:
        c.start("n1")
        c.wait_for(lambda: c.status("n1"), timeout=15)
        yield c


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(raft_messages, json_values, raw_bodies))
def test_raft_peer_endpoint_never_fails_5xx(raft: LocalCluster, body: Any) -> None:
    code = _post(raft.http, f"{raft.url('n1')}/peer", body)
    assert code == 204 or 400 <= code < 500, code
    assert raft.alive("n1")


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(client_calls)
def test_raft_client_endpoints_never_fail_5xx(
    raft: LocalCluster, call: tuple[str, str, tuple[str, Any]]
) -> None:
    method, path, (kind, body) = call
    args: dict[str, Any] = {"content": body} if kind == "raw" else {"json": body}
    code = raft.http.request(method, raft.url("n1") + path, **args).status_code
    # 504: a well-formed write to a node without a majority times out, as it must.
    assert code < 500 or code == 504, code
    assert raft.alive("n1")


def test_raft_state_survives_the_fuzzing(raft: LocalCluster) -> None:
    before = raft.status("n1")
    assert before is not None
    raft.kill("n1")
    hard, log = Storage(raft.base_dir / "n1").load()
    assert hard is None or hard.term <= before["term"]
    assert len(log) == before["last_log_index"]
    raft.start("n1")
    after = raft.wait_for(lambda: raft.status("n1"), timeout=15)
    assert after["term"] >= before["term"]


@pytest.fixture(scope="module")
def bully(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    c = LocalCluster("chaoskit.targets.bully", 3, tmp_path_factory.mktemp("fuzz-bully"))
    with c:
        c.start("n1")
        c.wait_for(lambda: c.status("n1"), timeout=15)
        yield c


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(raft_messages, json_values, raw_bodies))
def test_bully_peer_endpoint_never_fails_5xx(bully: LocalCluster, body: Any) -> None:
    code = _post(bully.http, f"{bully.url('n1')}/peer", body)
    assert code == 204 or 400 <= code < 500, code
    assert bully.alive("n1")
    assert bully.status("n1") is not None


def test_raft_peer_endpoint_takes_valid_messages_and_refuses_strangers(
    raft: LocalCluster,
) -> None:
    url = f"{raft.url('n1')}/peer"
    vote = {"from": "n2", "to": "n1", "type": "vote", "term": 1, "last_index": 0, "last_term": 0}
    assert _post(raft.http, url, vote) == 204
    assert _post(raft.http, url, {**vote, "from": "n9"}) == 400
    assert _post(raft.http, url, {**vote, "to": "n2"}) == 400
    assert _post(raft.http, url, {**vote, "term": "1"}) == 400
    assert _post(raft.http, url, {**vote, "term": True}) == 400
    assert _post(raft.http, url, b"x" * 70000) == 413
