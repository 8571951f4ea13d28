"""Hostile and malformed bodies against every writing endpoint of the API.

Whatever comes in, the server answers (never a 5xx, never a hang), every error is
Toxiproxy's JSON shape, and a 4xx leaves the state exactly as it was. Strings in the
generated bodies can only name loopback addresses, so nothing binds elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.integration

KEYS = [
    "name",
    "listen",
    "upstream",
    "enabled",
    "type",
    "stream",
    "toxicity",
    "attributes",
    "latency",
    "jitter",
    "rate",
    "delay",
    "timeout",
    "average_size",
    "size_variation",
    "bytes",
    "toxics",
]
STRINGS = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters=":"), max_size=20),
    st.sampled_from(
        [
            "127.0.0.1:0",
            "127.0.0.1:1",
            ":0",
            "localhost:0",
            "[::1]:0",
            "latency",
            "timeout",
            "slicer",
            "upstream",
            "downstream",
            "p",
            "t",
            "127.0.0.1:99999",
        ]
    ),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    STRINGS,
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=5)), inner, max_size=6),
    ),
    max_leaves=12,
)
ENDPOINTS = [
    ("POST", "/proxies"),
    ("POST", "/populate"),
    ("POST", "/proxies/p"),
    ("PATCH", "/proxies/p"),
    ("POST", "/proxies/p/toxics"),
    ("POST", "/proxies/p/toxics/t"),
    ("PATCH", "/proxies/p/toxics/t"),
    ("POST", "/proxies/ghost/toxics"),
]


def encode(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


BODIES = st.one_of(JSON.map(encode), st.binary(max_size=200))


@pytest.fixture
def api(threaded) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=threaded.url, timeout=30) as client:
        yield client


def restore(api: httpx.Client, upstream: int) -> None:
    """One proxy "p" with one toxic "t", nothing else."""
    for name in api.get("/proxies").json():
        api.delete(f"/proxies/{name}")
    api.post("/proxies", json={"name": "p", "upstream": f"127.0.0.1:{upstream}"})
    api.post("/proxies/p/toxics", json={"name": "t", "type": "latency"})


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(endpoint=st.sampled_from(ENDPOINTS), body=BODIES)
def test_hostile_bodies_never_break_the_server(api, threaded, endpoint, body) -> None:  # type: ignore[no-untyped-def]
    restore(api, threaded.echo_port)
    before = api.get("/proxies").json()
    method, path = endpoint
    response = api.request(method, path, content=body)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()
        assert error["status"] == response.status_code
        assert isinstance(error["error"], str) and error["error"]
        assert api.get("/proxies").json() == before
    for proxy in api.get("/proxies").json().values():
        host = proxy["listen"].rpartition(":")[0]
        assert host in ("127.0.0.1", "::1", "[::1]"), proxy


def test_server_still_answers_after_the_fuzzing(api, threaded) -> None:  # type: ignore[no-untyped-def]
    restore(api, threaded.echo_port)
    for method, path in ENDPOINTS:
        api.request(method, path, content=b"\x00" * 1000)
    assert api.get("/version").status_code == 200
