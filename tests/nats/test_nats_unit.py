"""The nats target without servers: configuration, /jsz parsing, options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoskit.errors import ConfigError, SetupError
from chaoskit.targets.nats._monitor import parse_jsz
from chaoskit.targets.nats._server import ServerSettings, server_conf
from chaoskit.targets.nats.target import NatsTarget

FRONTS = {"n1": ("127.0.0.1", 31001), "n2": ("127.0.0.1", 31002), "n3": ("127.0.0.1", 31003)}


def test_config_routes_through_every_front_and_advertises_its_own() -> None:
    text = server_conf(
        "n2",
        ("127.0.0.1", 4222),
        ("127.0.0.1", 6222),
        ("127.0.0.1", 8222),
        FRONTS,
        Path("/data/n2"),
        ServerSettings(),
    )
    conf = json.loads(text)
    assert conf["server_name"] == "n2" and conf["listen"] == "127.0.0.1:4222"
    assert conf["http"] == "127.0.0.1:8222"
    assert conf["cluster"]["listen"] == "127.0.0.1:6222"
    assert conf["cluster"]["advertise"] == "127.0.0.1:31002"
    assert conf["cluster"]["routes"] == [f"nats-route://127.0.0.1:3100{i}" for i in (1, 2, 3)]
    assert conf["jetstream"]["store_dir"] == "/data/n2/jetstream"


def _jsz(meta: str | None, streams: dict[str, str | None]) -> dict[str, object]:
    details = [
        {"name": name, "cluster": {"name": "chaoskit", **({"leader": ld} if ld else {})}}
        for name, ld in streams.items()
    ]
    return {
        "meta_cluster": {"name": "chaoskit", **({"leader": meta} if meta else {})},
        "account_details": [{"name": "$G", "stream_detail": details}],
    }


def test_roles_per_group() -> None:
    body = _jsz("n3", {"KV_chaoskit": "n1", "chaoskit-set": "n2"})
    assert parse_jsz(body, "n3", "meta", "x").role == "leader"
    assert parse_jsz(body, "n1", "meta", "x").leader == "n3"
    assert parse_jsz(body, "n1", "kv", "KV_chaoskit").role == "leader"
    assert parse_jsz(body, "n1", "stream", "chaoskit-set").role == "follower"
    assert parse_jsz(_jsz(None, {}), "n1", "meta", "x").role == "candidate"
    assert parse_jsz(body, "n1", "stream", "missing").role == "candidate"
    with pytest.raises(ValueError, match="not clustered"):
        parse_jsz({"server_id": "x"}, "n1", "meta", "x")


def test_options() -> None:
    target = NatsTarget()
    with pytest.raises(ConfigError, match="unknown nats group 'metta'"):
        target.configure({"group": "metta"})
    with pytest.raises(ConfigError, match="unknown nats option"):
        target.configure({"bogus": "1"})
    with pytest.raises(ConfigError, match="replicas must be positive"):
        target.configure({"replicas": "0"})
    with pytest.raises(SetupError, match="apt-get install -y nats-server"):
        target.configure({"binary": "/nonexistent/nats-server"})
