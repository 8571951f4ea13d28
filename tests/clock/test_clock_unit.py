"""FaketimeClock without processes: specs, files, the library lookup, errors."""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import pytest

from chaoskit.clock import faketime
from chaoskit.clock.faketime import (
    LIBRARY_ENV,
    TRUE_SPEC,
    FaketimeClock,
    faketime_spec,
    find_libfaketime,
    sweep_shm,
)
from chaoskit.errors import ChaoskitError, ConfigError, SetupError


def make_clock(tmp_path: Path, wall: float = 1_000.0) -> FaketimeClock:
    return FaketimeClock(
        tmp_path / "clock", ["n1", "n2"], library="/lib/in/image.so", wall=lambda: wall
    )


def spec_of(clock: FaketimeClock, node: str) -> str:
    return clock.path_for(node).read_text().strip()


# -- specs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "rate", "spec"),
    [
        (0.0, 1.0, "+0.000000 x1"),
        (300, 1.0, "+300.000000 x1"),
        (-2.5, 1.0, "-2.500000 x1"),
        (0.0, 2.0, "@1000.000000 x2.000000"),
        (-5.0, 0.5, "@995.000000 x0.500000"),
        (60.25, 1.5, "@1060.250000 x1.500000"),
    ],
)
def test_spec_for_offset_and_rate(offset: float, rate: float, spec: str) -> None:
    assert faketime_spec(offset, rate, now=1000.0) == spec


def test_specs_use_no_letter_libfaketime_reads_as_a_unit() -> None:
    # libfaketime multiplies a "+..." offset by 60 if the spec holds an "m", etc.
    for offset in (1e-7, 12345.678, -0.001):
        spec = faketime_spec(offset, 1.0, now=0.0)
        assert not set(spec) & set("mhdy"), spec


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan, math.inf])
def test_a_clock_cannot_stop_or_run_backwards(rate: float) -> None:
    with pytest.raises(ConfigError, match="rate"):
        faketime_spec(0.0, rate, now=0.0)


# -- finding the library ------------------------------------------------------------


def test_override_to_a_missing_file_says_how_to_fix_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.so"
    with pytest.raises(SetupError) as err:
        find_libfaketime({LIBRARY_ENV: str(missing)})
    message = str(err.value)
    assert "apt-get install faketime" in message and str(missing) in message
    assert "\n" not in message and isinstance(err.value, ChaoskitError)


def test_override_to_an_existing_file_wins(tmp_path: Path) -> None:
    lib = tmp_path / "libfaketime.so.1"
    lib.write_bytes(b"")
    assert find_libfaketime({LIBRARY_ENV: str(lib)}) == lib


def test_no_library_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faketime, "_search_dirs", lambda: [str(tmp_path)])
    with pytest.raises(SetupError, match=r"^libfaketime not found: apt-get install faketime$"):
        find_libfaketime({})


def test_found_in_a_search_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "libfaketime.so.1").write_bytes(b"")
    monkeypatch.setattr(faketime, "_search_dirs", lambda: [str(tmp_path / "x"), str(tmp_path)])
    assert find_libfaketime({}) == tmp_path / "libfaketime.so.1"


def test_the_clock_refuses_to_start_without_the_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(LIBRARY_ENV, str(tmp_path / "missing.so"))
    with pytest.raises(SetupError, match="libfaketime not found"):
        FaketimeClock(tmp_path / "clock", ["n1"])
    assert not (tmp_path / "clock").exists()


# -- files and settings ------------------------------------------------------------


def test_every_node_starts_at_the_true_time(tmp_path: Path) -> None:
    clock = make_clock(tmp_path)
    assert spec_of(clock, "n1") == spec_of(clock, "n2") == TRUE_SPEC
    assert clock.offsets() == {
        "n1": {"offset_s": 0.0, "rate": 1.0},
        "n2": {"offset_s": 0.0, "rate": 1.0},
    }


def test_set_and_reset_rewrite_only_that_node(tmp_path: Path) -> None:
    clock = make_clock(tmp_path)
    clock.set("n1", offset_s=30)
    clock.set("n2", offset_s=-1, rate=0.5)
    assert spec_of(clock, "n1") == "+30.000000 x1"
    assert spec_of(clock, "n2") == "@999.000000 x0.500000"
    assert clock.offsets()["n2"] == {"offset_s": -1.0, "rate": 0.5}
    clock.reset("n1")
    assert spec_of(clock, "n1") == TRUE_SPEC
    assert spec_of(clock, "n2") == "@999.000000 x0.500000"
    clock.reset()
    assert spec_of(clock, "n2") == TRUE_SPEC
    assert clock.offsets()["n2"] == {"offset_s": 0.0, "rate": 1.0}


def test_writes_leave_no_temp_files_and_are_readable_by_all(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        clock = make_clock(tmp_path)
        for i in range(50):
            clock.set("n1", offset_s=i)
    finally:
        os.umask(old)
    names = sorted(p.name for p in (tmp_path / "clock").iterdir())
    assert names == ["n1.faketime", "n2.faketime"]
    mode = stat.S_IMODE(clock.path_for("n1").stat().st_mode)
    assert mode == 0o644  # a node in a container may run as another user


def test_a_failed_set_changes_nothing(tmp_path: Path) -> None:
    clock = make_clock(tmp_path)
    clock.set("n1", offset_s=5)
    with pytest.raises(ConfigError):
        clock.set("n1", rate=0)
    assert spec_of(clock, "n1") == "+5.000000 x1"
    assert clock.offsets()["n1"] == {"offset_s": 5.0, "rate": 1.0}


def test_unknown_node(tmp_path: Path) -> None:
    clock = make_clock(tmp_path)
    with pytest.raises(ConfigError, match="no node 'n9'"):
        clock.set("n9", offset_s=1)
    with pytest.raises(ConfigError, match="no node 'n9'"):
        clock.reset("n9")
    with pytest.raises(ConfigError, match="no node 'n9'"):
        clock.env_for("n9")


def test_env_for_a_local_node(tmp_path: Path) -> None:
    clock = make_clock(tmp_path)
    env = clock.env_for("n1")
    assert env == {
        "LD_PRELOAD": "/lib/in/image.so",
        "FAKETIME_TIMESTAMP_FILE": str(tmp_path / "clock" / "n1.faketime"),
        "FAKETIME_NO_CACHE": "1",
        "FAKETIME_FMT": "%s",
        "NO_FAKE_STAT": "1",
    }
    # Deliberately absent, see the module docstring: each would break set().
    for unwanted in ("FAKETIME_DONT_RESET", "FAKETIME_XRESET", "FAKETIME_DONT_FAKE_MONOTONIC"):
        assert unwanted not in env


def test_env_for_a_node_in_a_container(tmp_path: Path) -> None:
    env = make_clock(tmp_path).env_for("n2", node_dir="/chaoskit/clock/")
    assert env["FAKETIME_TIMESTAMP_FILE"] == "/chaoskit/clock/n2.faketime"
    assert env["LD_PRELOAD"] == "/lib/in/image.so"


def test_close_removes_its_files_and_is_idempotent(tmp_path: Path) -> None:
    clock = make_clock(tmp_path)
    clock.set("n1", offset_s=3)
    clock.close()
    clock.close()
    assert not (tmp_path / "clock").exists()
    with pytest.raises(SetupError, match="closed"):
        clock.set("n1", offset_s=1)


def test_close_keeps_a_directory_shared_with_others(tmp_path: Path) -> None:
    (tmp_path / "clock").mkdir()
    (tmp_path / "clock" / "other.txt").write_text("not ours")
    clock = make_clock(tmp_path)
    clock.close()
    assert [p.name for p in (tmp_path / "clock").iterdir()] == ["other.txt"]


# -- /dev/shm leftovers ------------------------------------------------------------


def test_sweep_removes_only_recent_leftovers_of_dead_processes(tmp_path: Path) -> None:
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no such process
    live = os.getpid()
    names = [
        f"faketime_shm_{dead}",
        f"sem.faketime_sem_{dead}",
        f"faketime_shm_{live}",
        f"sem.faketime_sem_{live}",
        "faketime_shm_notapid",
        "something_else_1",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"\0" * 8)
    old = tmp_path / f"faketime_shm_{dead + 1}"
    old.write_bytes(b"")
    os.utime(old, (1_000.0, 1_000.0))

    removed = sweep_shm(since=2_000.0, shm_dir=tmp_path)

    assert sorted(p.name for p in removed) == sorted(names[:2])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*names[2:], old.name])
