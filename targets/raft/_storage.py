"""Durable Raft state: a small state file and an append-only log, both fsynced.

``state.json`` holds ``currentTerm`` and ``votedFor`` and is replaced atomically
(write, fsync, rename, fsync the directory). ``log.jsonl`` gets one line per entry,
``{"i": index, "t": term, "op": ...}``; a line for an index the log already reaches
cuts the log there first, so truncation needs no rewrite. A torn last line (a crash
mid-write, never acknowledged) is ignored when loading.

The planted bug ``ack-before-fsync`` (``Storage(sync_log=False)``): appends reach the
log file (the kernel) at once but are fsynced only when the node calls ``sync``, once
a second; the node acknowledges them before that. A kill loses nothing (the kernel
writes the file back); a power loss loses up to a second of acknowledged entries, as
any store that syncs "every second" or "every two minutes" does. The state file stays
synced: the bug is the log's alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import IO

from chaoskit.targets.raft._core import Entry, HardState, Ready

STATE = "state.json"
LOG = "log.jsonl"


class StorageError(Exception):
    """The data directory holds something this node cannot trust; it refuses to start.

    (The node process does not import chaoskit: it starts faster and stands alone.)
    """


class Storage:
    """The data directory of one Raft node."""

    def __init__(self, data_dir: Path, *, sync_log: bool = True) -> None:
        self.dir = data_dir
        self.dir.mkdir(parents=True, exist_ok=True)
        self._log: IO[str] | None = None
        self.sync_log = sync_log
        self._unsynced = False

    def load(self) -> tuple[HardState | None, list[Entry]]:
        """What the node persisted before it last stopped (nothing on first start)."""
        hard = None
        path = self.dir / STATE
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                vote = data["voted_for"]
                if vote is not None and not isinstance(vote, str):
                    raise TypeError(f"voted_for is {vote!r}")
                hard = HardState(int(data["term"]), vote)
            except (ValueError, KeyError, TypeError) as exc:
                raise StorageError(f"{path}: unreadable Raft state: {exc}") from exc
        return hard, self._load_log()

    def _load_log(self) -> list[Entry]:
        path = self.dir / LOG
        log: list[Entry] = []
        if not path.exists():
            return log
        # Bytes, decoded line by line: a flipped bit may leave a line that is not UTF-8,
        # which is corruption of that line like any other (chaoskit's corrupt faults).
        lines = path.read_bytes().splitlines(keepends=True)
        for n, line in enumerate(lines):
            try:
                rec = json.loads(line.decode("utf-8"))
                index, entry = int(rec["i"]), Entry(int(rec["t"]), dict(rec["op"]))
            except (ValueError, KeyError, TypeError) as exc:
                if n == len(lines) - 1 and not line.endswith(b"\n"):
                    break  # torn by a crash before fsync: never acknowledged
                raise StorageError(f"{path}: line {n + 1} is corrupt: {exc}") from exc
            if not 1 <= index <= len(log) + 1:
                raise StorageError(f"{path}: line {n + 1} skips to index {index}")
            del log[index - 1 :]
            log.append(entry)
        return log

    def save(self, ready: Ready) -> None:
        """Persist what ``ready`` asks for, fsynced, before anything is sent."""
        if ready.log_from is not None and ready.entries:
            f = self._log_file()
            for k, entry in enumerate(ready.entries):
                rec = {"i": ready.log_from + k, "t": entry.term, "op": entry.op}
                f.write(json.dumps(rec, separators=(",", ":")) + "\n")
            f.flush()
            if self.sync_log:
                os.fsync(f.fileno())
            else:
                self._unsynced = True
        if ready.hard_state is not None:
            self._write_state(ready.hard_state)

    def sync(self) -> None:
        """fsync the log if appends wait for it (``sync_log=False``)."""
        if self._unsynced and self._log is not None:
            os.fsync(self._log.fileno())
            self._unsynced = False

    def _log_file(self) -> IO[str]:
        if self._log is None:
            path = self.dir / LOG
            created = not path.exists()
            self._repair_torn_tail(path)
            self._log = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
            if created:
                self._sync_dir()
        return self._log

    @staticmethod
    def _repair_torn_tail(path: Path) -> None:
        """Cut a torn last line so that new lines do not glue onto it."""
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with open(path, "r+b") as f:
                f.truncate(data.rfind(b"\n") + 1)

    def _write_state(self, hard: HardState) -> None:
        tmp = self.dir / (STATE + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"term": hard.term, "voted_for": hard.voted_for}, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.dir / STATE)
        self._sync_dir()

    def _sync_dir(self) -> None:
        """Make a new or renamed file's directory entry durable too."""
        fd = os.open(self.dir, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
