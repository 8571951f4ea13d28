"""Re-running a stored run's schedule: the runner behind ``chaoskit replay`` and
``chaoskit shrink``.

A stored run is read back as its settings (the "repeat with" command of its
``config.json``, parsed by the settings table, so the seed, the target options and the
clients are exactly the run's), its verdict and its tape. A candidate (steps, clients,
time limit) becomes a scenario file in the run's ``replay/`` or ``shrink/`` folder and
a run of it in the same store; its ``config.json`` says which run it re-runs
(``replay_of``), why (``purpose``) and which attempt it is.
"""

from __future__ import annotations

import copy
import json
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.run.config import RunConfig
from chaoskit.run.controller import execute
from chaoskit.run.settings import config_from_argv, config_mapping
from chaoskit.scenario.files import write_scenario
from chaoskit.scenario.model import Scenario
from chaoskit.scenario.outcome import Candidate, Kind, Outcome, first_anomaly, kinds_of
from chaoskit.scenario.shrink import MIN_DURATION_S
from chaoskit.scenario.tape import Tape, load_tape, tape_steps
from chaoskit.store.rundir import CONFIG, RESULTS, resolve_run_dir

NS = 1_000_000_000
#: Seconds after a candidate's last fault before its final phase, at least; twice the
#: election deadline when longer (the checkers must see what follows the heal).
MIN_MARGIN_S = 3.0


@dataclass
class StoredRun:
    """A stored run as replay and shrink read it."""

    run_dir: Path
    config: dict[str, Any]
    results: dict[str, Any]
    tape: Tape

    @property
    def store(self) -> Path:
        """The store the run is in (``<store>/<label>/<time>``): re-runs go there too."""
        return self.run_dir.parent.parent

    def base(self) -> RunConfig:
        """The run's settings, from its repeat command, in its own store."""
        command = self.config.get("command")
        if not isinstance(command, str):
            raise ConfigError(f"{self.run_dir / CONFIG} has no repeat command")
        config = config_from_argv(shlex.split(command))
        config.store = self.store
        config.progress = False
        return config

    @property
    def min_start(self) -> float:
        """No fault earlier than a second after the run's first leader (at least 2 s):
        a fault moved before the first election would hit a cluster still starting."""
        first = next((t for t, leader in self.tape.leaders if leader is not None), None)
        return max(2.0, (first or 0.0) + 1.0)

    @property
    def min_duration(self) -> float:
        """No fault shorter than four election timeouts (at least 1 s): a shorter one
        leaves the others no time to elect, so whether it fails is down to chance."""
        timeout = self.config.get("election_timeout")
        four = 4 * float(timeout) if isinstance(timeout, int | float) else 0.0
        return max(MIN_DURATION_S, four)

    @property
    def margin(self) -> float:
        deadline = self.config.get("election_deadline")
        twice = 2 * float(deadline) if isinstance(deadline, int | float) else 0.0
        return max(MIN_MARGIN_S, twice)

    def original(self) -> Candidate:
        """The run's schedule exactly: every fault of its tape, its clients, its time."""
        limit = float(self.config.get("time_limit", 60.0))
        return Candidate(
            steps=tuple(tape_steps(self.tape, end=limit)),
            concurrency=int(self.config.get("concurrency") or 0),
            bound_clients=int(self.config.get("bound_clients") or 0),
            time_limit=limit,
        )

    def hints(self, kind: Kind) -> list[list[int]]:
        """Events (indexes into ``original().steps``) the first anomaly of ``kind``
        points at: those active during it with the last one started before it, then
        every event started before it ended."""
        anomaly = first_anomaly(self.results, kind)
        if anomaly is None:
            return []
        events = self.tape.faults()
        ids = {str(label).rpartition("#")[2] for label in anomaly.get("faults") or []}
        active = {i for i, e in enumerate(events) if str(e.fault_id) in ids}
        start, end = (self._seconds(anomaly.get(k)) for k in ("start", "end"))
        hints: list[list[int]] = []
        if start is not None:
            before = [i for i, e in enumerate(events) if e.start <= start]
            if before:
                active.add(max(before, key=lambda i: events[i].start))
        if active:
            hints.append(sorted(active))
        if end is not None:
            hints.append([i for i, e in enumerate(events) if e.start < end])
        return hints

    def _seconds(self, ns: Any) -> float | None:
        """A run-clock time (ns) in scenario seconds."""
        return (ns - self.tape.origin_ns) / NS if isinstance(ns, int | float) else None


def load_stored_run(path: Path) -> StoredRun:
    """A checked run with a tape; a ``ConfigError`` naming what is missing."""
    run_dir = resolve_run_dir(Path(path)).resolve()
    try:
        config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
        results = json.loads((run_dir / RESULTS).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{run_dir} has no {RESULTS}: check it first (chaoskit check {run_dir})"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the run in {run_dir}: {exc}") from None
    return StoredRun(run_dir, config, results, load_tape(run_dir))


class Rerunner:
    """Runs candidates of a stored run (``outcome.Runner``)."""

    def __init__(self, stored: StoredRun) -> None:
        self.stored = stored
        self._base = stored.base()

    def config_for(self, candidate: Candidate, scenario: Path, purpose: str, n: int) -> RunConfig:
        """The run's settings with the candidate's steps, clients and time limit."""
        config = copy.deepcopy(self._base)
        config.nemeses = RunConfig().nemeses  # the scenario names the faults
        config.scenario = scenario
        config.time_limit = candidate.time_limit
        config.concurrency = candidate.concurrency
        config.bound_clients = candidate.bound_clients
        config.origin = {
            "replay_of": str(self.stored.run_dir),
            "purpose": purpose,
            "attempt": n,
        }
        return config

    def scenario(self, candidate: Candidate, config: RunConfig, name: str) -> Scenario:
        """The candidate as a scenario file's content: steps and every setting."""
        return Scenario(
            steps=candidate.steps,
            run=config_mapping(config),
            name=name,
            origin={"run": str(self.stored.run_dir)},
        )

    async def __call__(self, candidate: Candidate, purpose: str, index: int) -> Outcome:
        """Write the candidate's scenario file, run it, and say what the run found."""
        # <RUN>/shrink/007/shrink.toml: every re-run of a purpose under one store label.
        folder = self.stored.run_dir / purpose / f"{index:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{purpose}.toml"
        config = self.config_for(candidate, path, purpose, index)
        write_scenario(path, self.scenario(candidate, config, f"{purpose} {index}"))
        started = time.monotonic()
        try:
            result = await execute(config)
        except ChaoskitError as exc:
            return Outcome(None, error=str(exc), wall_s=time.monotonic() - started)
        if result.interrupted:
            # Ctrl-C or SIGTERM: the run healed and stopped everything; stop here too
            # (the controller absorbs the signal so that its teardown can run).
            raise ChaoskitError(f"interrupted; the re-runs so far are in {self.stored.store}")
        return Outcome(
            result.run_dir,
            kinds=kinds_of(result.results),
            valid=result.valid,
            error=result.error,
            wall_s=time.monotonic() - started,
        )
