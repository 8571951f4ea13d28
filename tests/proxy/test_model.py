"""Validation of API bodies: Toxiproxy's defaults, wording and status codes."""

from __future__ import annotations

from typing import Any

import pytest

from chaoskit.errors import ProxyError
from chaoskit.proxy._model import (
    ProxyFields,
    parse_populate,
    parse_proxy_create,
    parse_proxy_update,
    parse_toxic_create,
    parse_toxic_update,
    split_hostport,
)


def test_proxy_defaults_to_loopback_and_enabled() -> None:
    fields = parse_proxy_create({"name": "a", "upstream": "127.0.0.1:80"})
    assert fields == ProxyFields("a", "127.0.0.1:0", "127.0.0.1:80", True)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"upstream": "127.0.0.1:80"}, "missing required field: name"),
        ({"name": "a"}, "missing required field: upstream"),
        ({"name": "a", "upstream": "nowhere"}, "bad request body: upstream 'nowhere'"),
        ({"name": "a", "upstream": "h:0"}, "invalid port"),
        ({"name": "a", "upstream": "h:1", "listen": "h:70000"}, "invalid port"),
        ({"name": 5, "upstream": "h:1"}, "field 'name' must be a string"),
        ({"name": "a", "upstream": "h:1", "enabled": "yes"}, "must be true or false"),
        ([], "expected a JSON object"),
    ],
)
def test_bad_proxy_bodies_are_400s(body: Any, message: str) -> None:
    with pytest.raises(ProxyError) as caught:
        parse_proxy_create(body)
    assert caught.value.status == 400
    assert message in str(caught.value)


def test_update_keeps_absent_fields_and_the_name() -> None:
    current = ProxyFields("a", "127.0.0.1:5000", "127.0.0.1:80", True)
    assert parse_proxy_update({"enabled": False, "name": "b"}, current) == ProxyFields(
        "a", "127.0.0.1:5000", "127.0.0.1:80", False
    )


def test_populate_rejects_duplicates_and_names_the_bad_entry() -> None:
    good = {"name": "a", "upstream": "h:1"}
    assert [f.name for f in parse_populate([good, {**good, "name": "b"}])] == ["a", "b"]
    with pytest.raises(ProxyError, match="duplicate proxy name 'a'"):
        parse_populate([good, good])
    with pytest.raises(ProxyError, match="missing required field: upstream at proxy 2"):
        parse_populate([good, {"name": "b"}])
    with pytest.raises(ProxyError, match="expected a JSON array"):
        parse_populate({"proxies": [good]})


def test_toxic_defaults_follow_toxiproxy() -> None:
    spec = parse_toxic_create({"type": "latency", "attributes": {"latency": 5}})
    assert (spec.name, spec.stream, spec.toxicity) == ("latency_downstream", "downstream", 1.0)
    assert spec.attributes == {"latency": 5, "jitter": 0}
    up = parse_toxic_create({"type": "timeout", "stream": "upstream"})
    assert up.name == "timeout_upstream"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "nope"}, "invalid toxic type"),
        ({"type": "latency", "stream": "sideways"}, "stream was invalid"),
        ({"type": "latency", "attributes": {"latency": -1}}, "must not be negative"),
        ({"type": "latency", "attributes": {"latency": 1.5}}, "must be an integer"),
        ({"type": "latency", "attributes": {"latency": True}}, "must be an integer"),
        ({"type": "latency", "attributes": {"latency": 2**70}}, "out of range"),
        ({"type": "latency", "attributes": []}, "must be an object"),
        ({"type": "latency", "toxicity": 2}, "between 0 and 1"),
        ({"type": "latency", "toxicity": "all"}, "must be a number"),
        ({"type": "slicer", "attributes": {"average_size": 0}}, "at least 1"),
    ],
)
def test_bad_toxic_bodies_are_400s(body: Any, message: str) -> None:
    with pytest.raises(ProxyError) as caught:
        parse_toxic_create(body)
    assert caught.value.status == 400
    assert message in str(caught.value)


def test_toxic_update_merges_attributes_and_counts_revisions() -> None:
    spec = parse_toxic_create({"type": "latency", "attributes": {"latency": 5, "jitter": 2}})
    updated = parse_toxic_update({"attributes": {"latency": 9}, "type": "timeout"}, spec)
    assert updated.type == "latency"
    assert updated.attributes == {"latency": 9, "jitter": 2}
    assert updated.revision == spec.revision + 1


def test_hostport_forms() -> None:
    assert split_hostport(":8080", what="listen", allow_port_zero=True) == ("127.0.0.1", 8080)
    assert split_hostport("[::1]:9", what="x", allow_port_zero=False) == ("::1", 9)
    assert split_hostport("localhost:0", what="x", allow_port_zero=True) == ("localhost", 0)
    with pytest.raises(ProxyError):
        split_hostport("[zz]:9", what="x", allow_port_zero=False)
