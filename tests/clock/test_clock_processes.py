"""FaketimeClock on real processes: what a node launched with ``env_for`` sees."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from chaoskit.clock.faketime import FaketimeClock

pytestmark = pytest.mark.integration


def drift_from(node, changed: float, offset: float, rate: float) -> float:
    """How far the node's offset is from where ``set(offset, rate)`` at ``changed`` puts it.

    With a rate the offset keeps moving (by ``rate - 1`` per second), so the expected
    value depends on how long after the change the node was asked.
    """
    before = time.monotonic()
    seen = node.offset()
    elapsed = (before + time.monotonic()) / 2 - changed
    return seen - (offset + (rate - 1.0) * elapsed)


def test_a_bump_reaches_the_node_and_reset_takes_it_back(clock: FaketimeClock, spawn) -> None:
    node = spawn(clock.env_for("n1"))
    bystander = spawn(None)  # an unrelated process: no preload
    assert abs(node.offset()) < 1.0

    clock.set("n1", offset_s=300)
    assert abs(node.wait_offset(300.0) - 300.0) < 1.0
    assert abs(bystander.offset()) < 1.0
    # The test process itself agrees with the bystander: only n1 was lied to.
    assert abs(bystander.now()[0] - time.time()) < 1.0

    clock.set("n1", offset_s=-42.5)
    assert abs(node.wait_offset(-42.5) + 42.5) < 1.0

    clock.reset("n1")
    assert abs(node.wait_offset(0.0)) < 1.0
    assert clock.offsets()["n1"] == {"offset_s": 0.0, "rate": 1.0}


def test_each_node_has_its_own_clock(clock: FaketimeClock, spawn) -> None:
    n1, n2 = spawn(clock.env_for("n1")), spawn(clock.env_for("n2"))
    clock.set("n1", offset_s=120)
    clock.set("n2", offset_s=-120)
    assert abs(n1.wait_offset(120.0) - 120.0) < 1.0
    assert abs(n2.wait_offset(-120.0) + 120.0) < 1.0
    clock.reset()
    assert abs(n1.wait_offset(0.0)) < 1.0
    assert abs(n2.wait_offset(0.0)) < 1.0


@pytest.mark.parametrize("rate", [2.0, 0.5])
def test_a_rate_scales_elapsed_time_without_a_jump(
    clock: FaketimeClock, spawn, rate: float
) -> None:
    node = spawn(clock.env_for("n1"))
    # Let the node run first: libfaketime's naive "+0 x2" would now jump it ahead by
    # the time it has run; the clock must make the rate count only from the change.
    time.sleep(1.5)
    node.now()
    changed = time.monotonic()
    clock.set("n1", rate=rate)
    assert abs(drift_from(node, changed, offset=0.0, rate=rate)) < 0.3

    before = time.monotonic()
    wall0, mono0 = node.now()
    real0 = (before + time.monotonic()) / 2
    time.sleep(1.5)
    before = time.monotonic()
    wall1, mono1 = node.now()
    real = (before + time.monotonic()) / 2 - real0
    assert (wall1 - wall0) / real == pytest.approx(rate, rel=0.15)
    assert (mono1 - mono0) / real == pytest.approx(rate, rel=0.15)  # monotonic too: by design

    clock.reset("n1")
    assert abs(node.wait_offset(0.0)) < 1.0


def test_an_offset_and_a_rate_together(clock: FaketimeClock, spawn) -> None:
    node = spawn(clock.env_for("n1"))
    node.now()
    changed = time.monotonic()
    clock.set("n1", offset_s=-60, rate=1.5)
    assert abs(drift_from(node, changed, offset=-60.0, rate=1.5)) < 0.3
    assert node.rate() == pytest.approx(1.5, rel=0.15)


def test_a_node_started_after_a_bump_starts_bumped(clock: FaketimeClock, spawn) -> None:
    clock.set("n2", offset_s=90)
    late = spawn(clock.env_for("n2"))
    assert abs(late.offset() - 90.0) < 1.0


def test_an_asyncio_node_survives_a_strobe(clock: FaketimeClock, spawn) -> None:
    node = spawn(clock.env_for("n1"))
    ticks_before, _ = node.stats()
    rng = random.Random(7)
    seen: list[float] = []
    end = time.monotonic() + 2.0
    sign = 1.0
    while time.monotonic() < end:
        clock.set("n1", offset_s=sign * 0.5)
        sign = -sign
        time.sleep(rng.uniform(0.005, 0.1))
        if rng.random() < 0.3:
            seen.append(node.offset())  # the node still answers mid-strobe
    clock.reset("n1")

    assert max(seen) > 0.2 and min(seen) < -0.2, f"strobe not seen: {seen}"
    assert abs(node.wait_offset(0.0)) < 1.0
    # After a backwards jump its timers fire late, never crash: wait for them.
    deadline = time.monotonic() + 10.0
    ticks, done = node.stats()
    while ticks <= ticks_before + 10 and time.monotonic() < deadline:
        time.sleep(0.1)
        ticks, done = node.stats()
    assert not done, "the node's asyncio ticker died"
    assert ticks > ticks_before + 10
    assert node.ask("sleep") == "slept"  # time.sleep still works under faketime
    assert node.proc.poll() is None


def test_close_sweeps_the_leftovers_of_killed_nodes(tmp_path, libfaketime, spawn) -> None:
    clock = FaketimeClock(tmp_path / "clock", ["n1"])
    node = spawn(clock.env_for("n1"))
    node.now()
    pid = node.proc.pid
    leftovers = [Path(f"/dev/shm/faketime_shm_{pid}"), Path(f"/dev/shm/sem.faketime_sem_{pid}")]
    assert all(p.exists() for p in leftovers)  # libfaketime's, per process
    node.proc.kill()
    node.proc.wait(timeout=10)
    assert all(p.exists() for p in leftovers)  # SIGKILL leaves them behind

    clock.close()
    assert not any(p.exists() for p in leftovers)
    assert not (tmp_path / "clock").exists()
