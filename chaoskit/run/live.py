"""Live checking during a run: anomalies shown the moment they are found, ``--fail-fast``.

The live checks (``chaoskit.checkers.live``) listen on the run's three stream writers
from the moment the nodes' ids are known. Each anomaly they find is

- one line on the terminal at once (above the live display when there is one);
- passed to the caller's ``on_anomaly`` (the pytest plugin writes it to pytest's
  terminal as the test runs);
- with ``--fail-fast``, the signal for the controller to leave the main phase: it
  heals everything, runs the final phase, stores everything and checks offline.

After the run, ``add_to`` puts into ``results.json`` under ``live`` the anomalies as
reported and those the offline check (the authority) did not confirm, and
``stopped_early`` when ``--fail-fast`` ended the run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from chaoskit.checkers.live import LiveChecker, unconfirmed
from chaoskit.run.progress import Progress
from chaoskit.store.streams import JsonlWriter, RunClock

#: Lines printed for anomalies found live; the rest are counted, all are stored.
MAX_SHOWN = 10
OnAnomaly = Callable[[dict[str, Any]], None]


class LiveWatch:
    """The run's live checks and what is done with each anomaly they find."""

    def __init__(
        self,
        checkers: Sequence[str],
        *,
        clock: RunClock,
        progress: Progress,
        fail_fast: bool = False,
        on_anomaly: OnAnomaly | None = None,
    ) -> None:
        self.checker_names = list(checkers)
        self.clock = clock
        self.progress = progress
        self.fail_fast = fail_fast
        self.on_anomaly = on_anomaly
        self.checker: LiveChecker | None = None
        #: Set at the first anomaly when failing fast: the main phase ends.
        self.stop = asyncio.Event()
        #: ``{"at": run time (ns), "anomaly": ...}`` once the run was stopped early.
        self.stopped_early: dict[str, Any] | None = None

    def start(self, config: dict[str, Any], writers: Sequence[JsonlWriter]) -> None:
        """Listen on ``writers`` (observations, fault log, history, in that order);
        ``config`` is what config.json holds (nodes, policy, deadline)."""
        if self.checker is not None:
            return
        self.checker = LiveChecker(config, self.checker_names, self._found)
        observations, faults, history = writers
        observations.subscribe(self.checker.observation)
        faults.subscribe(self.checker.fault)
        history.subscribe(self.checker.history)

    @property
    def anomalies(self) -> list[dict[str, Any]]:
        return self.checker.anomalies if self.checker is not None else []

    def _found(self, anomaly: dict[str, Any]) -> None:
        count = len(self.anomalies)
        if count <= MAX_SHOWN:
            self.progress.anomaly(line(anomaly))
        if count == MAX_SHOWN + 1:
            self.progress.anomaly("more anomalies found live: all are in results.json")
        if self.on_anomaly is not None:
            self.on_anomaly(anomaly)
        if self.fail_fast and self.stopped_early is None:
            self.stopped_early = {"at": self.clock.now(), "anomaly": anomaly}
            self.stop.set()

    def add_to(self, results: dict[str, Any]) -> None:
        """Add the live checks' part to the offline ``results`` (results.json): the
        anomalies as reported, those the offline check did not confirm, and
        ``stopped_early``; warn when the two disagree (the offline verdict stands)."""
        live: dict[str, Any] = {
            "checkers": self.checker.checkers if self.checker is not None else [],
            "anomalies": self.anomalies,
            "unconfirmed": unconfirmed(self.anomalies, results),
        }
        if self.checker is not None and self.checker.error is not None:
            live["error"] = self.checker.error
            self.progress.warn(f"live checks stopped: {self.checker.error}")
        results["live"] = live
        if self.stopped_early is not None:
            results["stopped_early"] = self.stopped_early
        if live["unconfirmed"]:
            self.progress.warn(
                f"{len(live['unconfirmed'])} anomaly(ies) found live are not confirmed by "
                "the final check (its verdict stands; please report this)"
            )


def line(anomaly: dict[str, Any]) -> str:
    """``found live at 3.21 s: split-brain: n1 (term 3) and n2 (term 3) both led ...``"""
    at = anomaly.get("found_at", 0) / 1e9
    kind = anomaly.get("kind", anomaly.get("checker", "anomaly"))
    return f"found live at {at:.2f} s: {kind}: {anomaly.get('message', '')}"
