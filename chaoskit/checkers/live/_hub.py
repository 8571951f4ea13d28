"""The live checker: takes each record as it is written, reports each anomaly once.

The controller subscribes ``observation``, ``fault`` and ``history`` to the three
stream writers; ``replay`` feeds a stored run the same way. A live check that raises
stops live checking for the rest of the run (``error`` says why): it must never cost
a record or the run, and the offline check after the run is the authority anyway.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from chaoskit.checkers._timeline import sample_of
from chaoskit.checkers.live._elections import LiveStalledElection
from chaoskit.checkers.live._leaders import LiveSplitBrain
from chaoskit.checkers.live._view import LiveRun
from chaoskit.checkers.live._writes import LiveLostWrites
from chaoskit.core.checker import RunData
from chaoskit.core.records import Record

#: The checkers that have a live form; the others run only after the run.
LIVE_CHECKERS = ("split-brain", "stalled-election", "lost-writes")
log = logging.getLogger("chaoskit.live")


class LiveChecker:
    """The live forms of the run's checkers (those of ``checkers`` in ``LIVE_CHECKERS``).

    Every anomaly found is kept in ``anomalies`` and passed to ``on_anomaly``: the
    offline anomaly's fields plus ``checker`` and ``found_at`` (run time, ns, of the
    record that revealed it).
    """

    def __init__(
        self,
        config: dict[str, Any],
        checkers: Iterable[str],
        on_anomaly: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        names = set(checkers)
        self.run = LiveRun(config)
        self.on_anomaly = on_anomaly
        self.anomalies: list[dict[str, Any]] = []
        self.error: str | None = None
        self._found_at = 0
        self._leaders = LiveSplitBrain(self.run, self._emit) if "split-brain" in names else None
        self._elections = (
            LiveStalledElection(self.run, self._emit) if "stalled-election" in names else None
        )
        self._writes = LiveLostWrites(self.run, self._emit) if "lost-writes" in names else None

    @property
    def checkers(self) -> list[str]:
        """The checks running live."""
        parts = (self._leaders, self._elections, self._writes)
        return [name for name, part in zip(LIVE_CHECKERS, parts, strict=True) if part]

    def observation(self, record: Record) -> None:
        """One record of ``observations.jsonl``."""
        if self.error is not None:
            return
        try:
            s = sample_of(record)
            if self.run.first is None:
                self.run.first = s.time
            self.run.advance(s.time)
            self._found_at = s.time
            if self._leaders is not None:
                self._leaders.sample(s)
            if self._elections is not None:
                self._elections.sample(s)
        except Exception as exc:  # noqa: BLE001 - live checking stops, the run goes on
            self._fail(exc)

    def fault(self, record: Record) -> None:
        """One record of ``nemesis.jsonl``."""
        if self.error is not None:
            return
        try:
            span = self.run.fault(record)
            self.run.advance(int(record["time"]))
            if span is not None and record.get("type") == "start" and self._leaders:
                self._leaders.fault_started(span)
            if span is not None and record.get("type") == "stop" and self._elections:
                self._elections.stopped(span)
        except Exception as exc:  # noqa: BLE001 - live checking stops, the run goes on
            self._fail(exc)

    def history(self, record: Record) -> None:
        """One record of ``history.jsonl``."""
        if self.error is not None or self._writes is None:
            return
        try:
            self._found_at = int(record.get("time") or self._found_at)
            self._writes.record(record)
        except Exception as exc:  # noqa: BLE001 - live checking stops, the run goes on
            self._fail(exc)

    def _emit(self, checker: str, anomaly: dict[str, Any]) -> None:
        found = {"checker": checker, "found_at": self._found_at, **anomaly}
        self.anomalies.append(found)
        if self.on_anomaly is not None:
            self.on_anomaly(found)

    def _fail(self, exc: Exception) -> None:
        self.error = f"{type(exc).__name__}: {exc}"
        log.exception("live checks stopped: %s", self.error)


def replay(run: RunData, checkers: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The anomalies the live checks report on a stored run, fed in time order."""
    names = checkers if checkers is not None else run.config.get("checkers") or LIVE_CHECKERS
    live = LiveChecker(run.config, names)
    streams: list[tuple[Callable[[Record], None], list[Record]]] = [
        (live.fault, run.nemesis),
        (live.observation, run.observations),
        (live.history, run.history),
    ]
    for *_, feed, record in heapq.merge(
        *(_timed(i, feed, records) for i, (feed, records) in enumerate(streams))
    ):
        feed(record)
    if live.error is not None:
        raise RuntimeError(f"live checks failed: {live.error}")
    return live.anomalies


def _timed(
    stream: int, feed: Callable[[Record], None], records: list[Record]
) -> Iterator[tuple[int, int, int, Callable[[Record], None], Record]]:
    """(time, stream, index, feed, record), sorted as written: by time, stable."""
    ordered = sorted(enumerate(records), key=lambda item: int(item[1].get("time") or 0))
    for index, record in ordered:
        yield int(record.get("time") or 0), stream, index, feed, record
