"""The toxic stages as pure functions of (time, event): no sockets, no sleeping."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chaoskit.proxy._toxics import (
    ATTRIBUTES,
    Event,
    ToxicSpec,
    make_stage,
    run_chain,
    start_chain,
    validate_attributes,
)


def stage(kind: str, seed: int = 0, state: dict[str, int] | None = None, **attrs: int):  # type: ignore[no-untyped-def]
    spec = ToxicSpec(name=kind, type=kind, attributes={**ATTRIBUTES[kind], **attrs})
    return make_stage(spec, random.Random(seed), {} if state is None else state)


def data(t: float, payload: bytes = b"x") -> Event:
    return Event(t, "data", payload)


def test_latency_delays_each_chunk_from_its_own_arrival() -> None:
    latency = stage("latency", latency=100)
    assert run_chain([latency], [data(1.0)]) == [data(1.1)]
    # a chunk arriving later leaves later: pipelined, not cumulative
    assert run_chain([latency], [data(1.05)])[0].time == pytest.approx(1.15)


def test_jitter_stays_in_bounds_keeps_order_and_follows_the_seed() -> None:
    def times(seed: int) -> list[float]:
        latency = stage("latency", seed=seed, latency=100, jitter=50)
        out = run_chain([latency], [data(i * 0.001) for i in range(200)])
        return [event.time for event in out]

    first = times(7)
    assert first == sorted(first)  # TCP cannot reorder
    assert all(0.05 <= t - i * 0.001 <= 0.15 + 0.2 for i, t in enumerate(first))
    assert times(7) == first
    assert times(8) != first


def test_bandwidth_spreads_bytes_at_the_rate_in_100ms_slices() -> None:
    bandwidth = stage("bandwidth", rate=10)  # 10 KB/s = 10 000 B/s
    out = run_chain([bandwidth], [data(0.0, b"a" * 5000)])
    assert [len(e.data) for e in out] == [1000] * 5
    assert out[-1].time == pytest.approx(0.5)
    # the next chunk waits for the link to be free
    assert run_chain([bandwidth], [data(0.1, b"b" * 1000)])[-1].time == pytest.approx(0.6)


def test_bandwidth_zero_means_unlimited() -> None:
    assert run_chain([stage("bandwidth", rate=0)], [data(2.0, b"a" * 10**6)])[0].time == 2.0


def test_slow_close_passes_data_and_delays_the_end() -> None:
    slow = stage("slow_close", delay=300)
    assert run_chain([slow], [data(1.0)]) == [data(1.0)]
    assert run_chain([slow], [Event(1.0, "eof")]) == [Event(1.3, "eof")]


def test_timeout_swallows_data_and_closes_after_its_timer() -> None:
    timeout = stage("timeout", timeout=500)
    assert start_chain([timeout], 10.0) == [Event(10.5, "close")]
    assert run_chain([timeout], [data(10.1)]) == []


def test_timeout_lets_the_streams_own_end_pass_before_its_timer() -> None:
    timeout = stage("timeout", timeout=500)
    start_chain([timeout], 0.0)
    assert run_chain([timeout], [Event(0.1, "eof")]) == [Event(0.1, "eof")]


def test_timeout_zero_swallows_forever_but_passes_end_of_stream() -> None:
    timeout = stage("timeout", timeout=0)
    assert start_chain([timeout], 0.0) == []
    assert run_chain([timeout], [data(1.0), data(2.0)]) == []
    assert run_chain([timeout], [Event(3.0, "eof")]) == [Event(3.0, "eof")]


def test_reset_peer_resets_after_first_data_and_drops_everything() -> None:
    reset = stage("reset_peer", timeout=200)
    assert run_chain([reset], [data(1.0), data(1.1)]) == [Event(1.2, "reset")]
    assert run_chain([reset], [data(2.0)]) == []


def test_slicer_cuts_into_pieces_of_about_the_average_size() -> None:
    slicer = stage("slicer", seed=3, average_size=10, size_variation=4, delay=1000)
    payload = bytes(range(256)) * 4
    out = run_chain([slicer], [data(0.0, payload)])
    assert b"".join(e.data for e in out) == payload
    assert len(out) > 40
    assert all(1 <= len(e.data) <= 10 + 4 for e in out)
    assert [e.time for e in out] == pytest.approx([i * 0.001 for i in range(len(out))])


@given(size=st.integers(1, 5000), average=st.integers(1, 300), seed=st.integers(0, 99))
def test_slicer_never_loses_or_reorders_bytes(size: int, average: int, seed: int) -> None:
    slicer = stage("slicer", seed=seed, average_size=average, size_variation=average // 2)
    payload = random.Random(seed).randbytes(size)
    assert b"".join(e.data for e in run_chain([slicer], [data(0.0, payload)])) == payload


def test_limit_data_passes_that_many_bytes_then_closes_and_remembers() -> None:
    state: dict[str, int] = {}
    limit = stage("limit_data", state=state, bytes=10)
    assert run_chain([limit], [data(1.0, b"abcdef")]) == [data(1.0, b"abcdef")]
    out = run_chain([limit], [data(2.0, b"ghijkl")])
    assert out == [data(2.0, b"ghij"), Event(2.0, "close")]
    # a rebuilt stage (toxic updated) keeps the count through the shared state
    again = stage("limit_data", state=state, bytes=12)
    assert run_chain([again], [data(3.0, b"mnopq")]) == [data(3.0, b"mn"), Event(3.0, "close")]


def test_chain_applies_stages_in_order() -> None:
    chain = [stage("latency", latency=100), stage("slow_close", delay=50)]
    out = run_chain(chain, [data(0.0), Event(0.01, "eof")])
    assert [e.kind for e in out] == ["data", "eof"]
    # the end waits behind the delayed data, then for slow_close
    assert [e.time for e in out] == pytest.approx([0.1, 0.15])
    # a close from a timeout toxic still goes through the later slow_close
    chain = [stage("timeout", timeout=100), stage("slow_close", delay=50)]
    [close] = start_chain(chain, 0.0)
    assert close.kind == "close" and close.time == pytest.approx(0.15)


@pytest.mark.parametrize(
    ("kind", "attrs", "problem"),
    [
        ("latency", {"latency": -1, "jitter": 0}, "must not be negative"),
        ("slicer", {"average_size": 0, "size_variation": 0, "delay": 0}, "at least 1"),
        ("slicer", {"average_size": 5, "size_variation": 5, "delay": 0}, "less than"),
    ],
)
def test_invalid_attributes_are_named(kind: str, attrs: dict[str, int], problem: str) -> None:
    message = validate_attributes(kind, attrs)
    assert message is not None and problem in message


def test_valid_attributes_pass() -> None:
    for kind, defaults in ATTRIBUTES.items():
        attrs = {**defaults, "average_size": 8} if kind == "slicer" else defaults
        assert validate_attributes(kind, attrs) is None
