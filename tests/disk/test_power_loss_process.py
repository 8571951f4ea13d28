"""A real process killed by the power-loss API loses exactly what it did not sync."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from chaoskit.disk import DiskFaults

pytestmark = pytest.mark.integration

WRITER = Path(__file__).with_name("writer.py")


def _record(i: int) -> bytes:
    return f"record {i:06d}\n".encode()


def _killer(proc: subprocess.Popen[str]) -> Callable[[], None]:
    """Deliver SIGKILL and return at once (the API's contract for ``kill``)."""
    return lambda: os.kill(proc.pid, signal.SIGKILL)


@pytest.fixture
def mounted(disk: DiskFaults, short_dir: Path) -> tuple[DiskFaults, Path]:
    data = short_dir / "n1"
    disk.mount("n1", data)
    return disk, data


def test_a_killed_writer_keeps_exactly_its_synced_records(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    log = data / "log"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(log), "7", "5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        assert log.read_bytes() == b"".join(_record(i) for i in range(12))
        result = disk.power_loss("n1", kill=_killer(proc))
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    assert result["dropped_files"] == 1
    assert log.read_bytes() == b"".join(_record(i) for i in range(7))


@pytest.mark.parametrize("every", [1, 7])
def test_a_busy_writer_loses_nothing_it_synced_and_keeps_nothing_after_its_death(
    mounted: tuple[DiskFaults, Path], every: int
) -> None:
    """Killed while writing as fast as it can: the file is exactly a synced prefix."""
    disk, data = mounted
    log = data / "log"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(log), "--forever", str(every)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        reported = [int(proc.stdout.readline()) for _ in range(30)]
        disk.power_loss("n1", kill=_killer(proc))
        rest = proc.stdout.read()  # whatever it printed before it died
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    acknowledged = max([*reported, *map(int, rest.split())])
    content = log.read_bytes()
    count = len(content) // len(_record(0))
    assert content == b"".join(_record(i) for i in range(count))
    # Every record it was told is durable is there; at most the one sync it may have
    # finished without living to print it is extra; nothing unsynced is.
    assert count % every == 0
    assert acknowledged <= count <= acknowledged + every


SQLITE_CHILD = textwrap.dedent(
    """
    import sqlite3, sys
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("PRAGMA journal_mode=DELETE")
    db.execute("PRAGMA synchronous=" + sys.argv[2])
    db.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT)")
    i = 0
    while True:
        db.execute("BEGIN")
        for j in range(5):
            db.execute("INSERT INTO t (id, v) VALUES (?, ?)", (i * 5 + j, "x" * 300))
        db.execute("UPDATE t SET v = 'updated' WHERE id = ?", (i * 5,))
        db.execute("COMMIT")
        i += 1
        print(i, flush=True)
    """
)


@pytest.mark.parametrize("synchronous", ["EXTRA", "FULL"])
def test_sqlite_stays_consistent_after_a_power_loss(
    mounted: tuple[DiskFaults, Path], synchronous: str
) -> None:
    """A rollback-journal SQLite database survives, with every commit it made durable.

    With ``synchronous=EXTRA`` SQLite also syncs the directory after deleting its
    journal, so every commit it acknowledged is kept. With ``FULL`` it does not: the
    journal's deletion (the commit point) may not be durable, and the last commit can
    roll back; this model, stricter than ext4, shows it.
    """
    disk, data = mounted
    database = data / "db.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", SQLITE_CHILD, str(database), synchronous],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for _ in range(15):
            proc.stdout.readline()
        disk.power_loss("n1", kill=_killer(proc))
        printed = proc.stdout.read().split()
        proc.wait(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    committed = int(printed[-1]) if printed else 15
    db = sqlite3.connect(database)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        (rows,) = db.execute("SELECT count(*) FROM t").fetchone()
        transactions = rows // 5
        assert rows % 5 == 0  # whole transactions only
        ids = [r[0] for r in db.execute("SELECT id FROM t ORDER BY id")]
        assert ids == list(range(rows))
        updated = db.execute("SELECT count(*) FROM t WHERE v = 'updated'").fetchone()[0]
        assert updated == transactions
    finally:
        db.close()
    floor = committed if synchronous == "EXTRA" else committed - 1
    assert floor <= transactions <= committed + 1


def test_power_loss_from_asyncio_code(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    log = data / "log"
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), str(log), "3", "4"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        result = asyncio.run(disk.apower_loss("n1", _killer(proc)))
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        proc.kill()
        proc.wait()
    assert result["dropped_files"] == 1
    assert log.read_bytes() == b"".join(_record(i) for i in range(3))


def test_a_failing_kill_drops_nothing(mounted: tuple[DiskFaults, Path]) -> None:
    disk, data = mounted
    (data / "f").write_bytes(b"unsynced")

    def kill() -> None:
        raise ProcessLookupError("no such node")

    with pytest.raises(ProcessLookupError):
        disk.power_loss("n1", kill=kill)
    status = disk.status("n1")
    assert (status["frozen"], status["epoch"], status["pending_files"]) == (False, 0, 1)
    assert (data / "f").read_bytes() == b"unsynced"
