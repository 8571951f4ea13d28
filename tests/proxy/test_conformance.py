"""The PyPI ``toxiproxy-python`` client drives every endpoint and toxic of the
embedded server, the way it drives a real Toxiproxy."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

pytestmark = pytest.mark.integration

TOXICS = {
    "latency": {"latency": 100, "jitter": 10},
    "bandwidth": {"rate": 50},
    "slow_close": {"delay": 10},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 5},
    "slicer": {"average_size": 8, "size_variation": 2, "delay": 10},
    "limit_data": {"bytes": 1000},
}


@pytest.fixture
def toxiproxy(threaded) -> Iterator[Toxiproxy]:  # type: ignore[no-untyped-def]
    client = Toxiproxy()
    saved = (APIConsumer.host, APIConsumer.port)
    client.update_api_consumer("127.0.0.1", threaded.port)
    try:
        yield client
    finally:
        APIConsumer.host, APIConsumer.port = saved


def round_trip(port: int, payload: bytes = b"ping") -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        start = time.monotonic()
        sock.sendall(payload)
        got = b""
        while len(got) < len(payload):
            chunk = sock.recv(4096)
            assert chunk, "connection closed early"
            got += chunk
        assert got == payload
        return time.monotonic() - start


def port_of(listen: str) -> int:
    return int(listen.rpartition(":")[2])


def test_server_endpoints(toxiproxy: Toxiproxy, threaded) -> None:  # type: ignore[no-untyped-def]
    assert toxiproxy.running()
    assert b"version" in toxiproxy.version()
    upstream = f"127.0.0.1:{threaded.echo_port}"
    proxy = toxiproxy.create(upstream=upstream, name="echo")
    assert proxy.enabled and port_of(proxy.listen) > 0
    assert round_trip(port_of(proxy.listen)) < 1.0
    assert set(toxiproxy.proxies()) == {"echo"}
    assert toxiproxy.get_proxy("echo").listen == proxy.listen
    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream=upstream, name="echo")
    with pytest.raises(ProxyExists):  # the server's own 409, past the client's check
        APIConsumer.post("/proxies", json={"name": "echo", "upstream": upstream})
    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/nope")

    with proxy.down():
        assert not toxiproxy.get_proxy("echo").enabled
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port_of(proxy.listen)), timeout=5).close()
    assert toxiproxy.get_proxy("echo").enabled
    assert round_trip(port_of(proxy.listen)) < 1.0

    made = toxiproxy.populate(
        [
            {"name": "echo", "listen": proxy.listen, "upstream": upstream},
            {"name": "other", "listen": "127.0.0.1:0", "upstream": upstream},
        ]
    )
    assert [p.name for p in made] == ["other"]  # "echo" existed unchanged
    populated = APIConsumer.post(
        "/populate", json=[{"name": "third", "listen": "127.0.0.1:0", "upstream": upstream}]
    )
    assert populated.status_code == 201 and populated.json()["proxies"][0]["name"] == "third"

    proxy.disable()
    assert toxiproxy.reset()
    assert toxiproxy.get_proxy("echo").enabled
    assert toxiproxy.destroy(toxiproxy.get_proxy("third"))
    toxiproxy.destroy_all()
    assert toxiproxy.proxies() == {}


def test_every_toxic_through_the_client(toxiproxy: Toxiproxy, threaded) -> None:  # type: ignore[no-untyped-def]
    proxy = toxiproxy.create(upstream=f"127.0.0.1:{threaded.echo_port}", name="t")
    for kind, attributes in TOXICS.items():
        proxy.add_toxic(type=kind, attributes=attributes)
        proxy.add_toxic(type=kind, stream="upstream", toxicity=0.5, attributes=attributes)
    toxics = proxy.toxics()
    assert len(toxics) == 2 * len(TOXICS)
    for kind, attributes in TOXICS.items():
        down = proxy.get_toxic(f"{kind}_downstream")
        assert (down.type, down.stream, down.toxicity) == (kind, "downstream", 1.0)
        assert down.attributes == attributes
        assert toxics[f"{kind}_upstream"].toxicity == 0.5
    with pytest.raises(ProxyExists):
        proxy.add_toxic(type="latency")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="no_such_toxic")
    with pytest.raises(InvalidToxic):
        proxy.add_toxic(type="latency", name="neg", attributes={"latency": -1})
    for name in list(toxics):
        assert proxy.destroy_toxic(name)
    assert proxy.toxics() == {}
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")


def test_a_toxic_set_by_the_client_takes_effect(toxiproxy: Toxiproxy, threaded) -> None:  # type: ignore[no-untyped-def]
    proxy = toxiproxy.create(upstream=f"127.0.0.1:{threaded.echo_port}", name="slow")
    port = port_of(proxy.listen)
    proxy.add_toxic(type="latency", attributes={"latency": 250})
    assert round_trip(port) >= 0.24
    proxy.destroy_toxic("latency_downstream")
    assert round_trip(port) < 0.2
