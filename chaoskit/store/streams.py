"""Writing and reading the streams of a run as JSON Lines (formats: ``chaoskit.core.records``).

Every record carries ``time``: nanoseconds since the run started, from the
controller's monotonic clock (``RunClock``). Writers flush every line as it comes so
that a controller killed mid-run still leaves checkable files; readers ignore only a
torn last line.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

import msgspec

from chaoskit.core.records import Record


class RunClock:
    """The controller's timeline: nanoseconds since the run started (monotonic).

    A node's clock is never used for the recorded timeline; the clock nemesis skews it.
    """

    def __init__(self) -> None:
        self._origin = time.monotonic_ns()

    def now(self) -> int:
        """Nanoseconds since the run started."""
        return time.monotonic_ns() - self._origin


class JsonlWriter:
    """Append records to a JSON Lines file, one flushed line per record.

    Listeners (``subscribe``) get every record right after it is written: the live
    checks read the streams this way, record for record what the file holds.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[str] = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
        self._listeners: list[Callable[[Record], None]] = []

    def subscribe(self, listener: Callable[[Record], None]) -> None:
        """Call ``listener`` with each record written from now on (it must not raise)."""
        self._listeners.append(listener)

    def write(self, record: Record) -> None:
        """Append one record and flush it to the kernel."""
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        for listener in self._listeners:
            listener(record)

    def sync(self) -> None:
        """Flush and fsync: called at phase ends so a crash loses nothing before them."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()


@dataclass
class StreamRead:
    """What reading a stream found: the records and whether the last line was torn."""

    records: list[Record] = field(default_factory=list)
    torn: bool = False


def iter_jsonl(path: Path) -> Iterator[Record]:
    """Yield the records of a JSON Lines file, skipping a torn last line.

    A malformed line anywhere but at the end raises ``ValueError``: that is
    corruption, not a crash mid-write.
    """
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        pending: str | None = None
        for line in f:
            if pending is not None:
                yield _parse(pending, path)
            pending = line
        if pending is not None:
            try:
                yield _parse(pending, path)
            except ValueError:
                if pending.endswith("\n"):
                    raise


#: Every line must be a JSON object: anything else sends the file to the careful reader.
_LINES: Final = msgspec.json.Decoder(dict)


def read_jsonl(path: Path) -> StreamRead:
    """Read a whole stream, noting a torn last line instead of failing on it.

    The whole file is decoded at once by msgspec (about five times faster than a
    ``json.loads`` per line); only a file it refuses (a torn or malformed line) is
    read again line by line, to tell a torn last line from corruption.
    """
    out = StreamRead()
    if not path.exists():
        return out
    data = path.read_bytes()
    try:
        out.records = _LINES.decode_lines(data)
        return out
    except msgspec.DecodeError:
        pass
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1 and not line.endswith("\n"):
                out.torn = True
                continue
            raise ValueError(f"{path}: line {i + 1} is not JSON: {exc}") from exc
        except RecursionError:
            raise ValueError(f"{path}: line {i + 1} is nested too deeply") from None
        if not isinstance(record, dict):
            raise ValueError(f"{path}: line {i + 1} is not a JSON object")
        out.records.append(record)
    return out


def _parse(line: str, path: Path) -> Record:
    try:
        rec: Record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: a line is not JSON: {exc}") from exc
    return rec
