"""RunConfig: everything that defines one run, and everything needed to repeat it.

Built from CLI flags, a pytest marker or a nightly matrix cell through the settings
table (settings.py), validated before anything starts, and stored with every run
(``config.json``, with the command that repeats it).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoskit.core.target import POLICIES, Policy
from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.store.files import read_toml

DEFAULT_NODES = 5
DEFAULT_TIME_LIMIT = 60.0
DEFAULT_STORE = Path("runs")
MAX_NODES = 15
#: The longest run (and election deadline) accepted: a day. A run holds its streams in
#: memory when it is checked, so a longer one is a mistake (``1e308``), not a test.
MAX_TIME_LIMIT_S = 86_400.0
#: The shortest mean fault or heal interval: a fault must have time to be applied and
#: healed (a 5-node partition is 20 proxy changes) before the next one starts.
MIN_INTERVAL_S = 0.1
#: The most faults a run's schedule may hold (about ``time_limit / (fault + heal)``).
MAX_FAULTS = 10_000
MAX_CLIENTS = 200


@dataclass
class NemesisSpec:
    """A nemesis name with its options, written ``partition:mode=hang`` on the CLI.

    ``a&b`` (each part with its own options) is one fault made of several applied
    together: ``together`` holds the parts and ``name`` is ``a&b``.
    """

    name: str
    options: dict[str, str] = field(default_factory=dict)
    together: list[NemesisSpec] = field(default_factory=list)

    @classmethod
    def parse(cls, text: str) -> NemesisSpec:
        if "&" in text:
            parts = [cls.parse(part) for part in text.split("&")]
            if len({p.name for p in parts}) < len(parts):
                raise ConfigError(f"a nemesis appears twice in '{text.strip()}'")
            return cls(name="&".join(p.name for p in parts), together=parts)
        name, _, rest = text.strip().partition(":")
        options = parse_options(rest.split(";") if rest else [], what="nemesis option")
        if not name:
            raise ConfigError(f"empty nemesis name in '{text}'")
        return cls(name=name, options=options)

    @property
    def names(self) -> list[str]:
        """The nemeses this spec applies: its own name, or those of its parts."""
        return [p.name for p in self.together] or [self.name]

    def __str__(self) -> str:
        if self.together:
            return "&".join(str(p) for p in self.together)
        if not self.options:
            return self.name
        return self.name + ":" + ";".join(f"{k}={v}" for k, v in self.options.items())


@dataclass
class RunConfig:
    """One run. ``None`` fields take the target's defaults when the run starts."""

    #: A target name, a spec file path (``.toml``), or a Target object (from conftest.py).
    target: Any = "raft"
    nemeses: list[NemesisSpec] = field(default_factory=lambda: [NemesisSpec("partition")])
    nodes: int = DEFAULT_NODES
    time_limit: float = DEFAULT_TIME_LIMIT
    seed: int | None = None
    concurrency: int | None = None
    #: Extra clients pinned to one node each (node i mod n), never following the leader.
    bound_clients: int = 0
    workload: str | None = None
    #: ``local`` processes, ``docker`` containers of the run, or ``compose``: attach to
    #: the running docker-compose project of ``compose_file``.
    runtime: str = "local"
    #: How faults reach the links: ``proxy`` (default) or ``iptables`` (docker runtime).
    network: str = "proxy"
    store: Path = DEFAULT_STORE
    options: dict[str, str] = field(default_factory=dict)
    policy: Policy | None = None
    election_deadline: float | None = None
    checkers: list[str] | None = None
    toxiproxy_url: str | None = None
    fault_s: float | None = None
    heal_s: float | None = None
    #: Show the live progress display (the CLI turns it off for non-terminals).
    progress: bool = True
    #: Stop the main phase at the first anomaly the live checks find (run/live.py).
    fail_fast: bool = False
    #: ``--runtime compose``: the compose file (default ``docker-compose.yml``) and,
    #: optionally, its project name.
    compose_file: Path | None = None
    compose_project: str | None = None
    #: ``--runtime ssh``: the inventory of hosts (absolute); ``None``: the target spec's
    #: ``[ssh]`` table. ``host_clock``: clock faults step the hosts' clocks.
    inventory: Path | None = None
    host_clock: bool = False
    #: ``--scenario``: the steps of this scenario file instead of the random schedule.
    scenario: Path | None = None
    #: What this run re-runs, set by ``chaoskit replay`` and ``chaoskit shrink``
    #: (``{"replay_of": RUN, "purpose": ...}``): written to config.json, not a setting.
    origin: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.runtime == "compose" and self.compose_file is None:
            self.compose_file = Path("docker-compose.yml")
        if self.runtime == "ssh":  # links on SSH hosts are faulted by iptables, always
            self.network = "iptables"

    def validate(self) -> None:
        """Reject nonsense before anything starts: a ``ConfigError`` naming the field."""
        if not 1 <= self.nodes <= MAX_NODES:
            raise ConfigError(f"--nodes must be between 1 and {MAX_NODES}, not {self.nodes}")
        if not self.time_limit > 0:
            raise ConfigError(f"--time-limit must be positive, not {self.time_limit}")
        _at_most("--time-limit", self.time_limit, MAX_TIME_LIMIT_S)
        if self.concurrency is not None and not 0 <= self.concurrency <= MAX_CLIENTS:
            raise ConfigError(
                f"--concurrency must be between 0 and {MAX_CLIENTS}, not {self.concurrency}"
            )
        if not 0 <= self.bound_clients <= MAX_CLIENTS:
            raise ConfigError(
                f"--bound-clients must be between 0 and {MAX_CLIENTS}, not {self.bound_clients}"
            )
        if self.policy is not None and self.policy not in POLICIES:
            raise ConfigError(f"--policy must be one of {', '.join(POLICIES)}, not {self.policy}")
        if self.election_deadline is not None:
            if not self.election_deadline > 0:
                raise ConfigError("the election deadline must be positive")
            _at_most("--election-deadline", self.election_deadline, MAX_TIME_LIMIT_S)
        self._validate_intervals()
        if self.network not in ("proxy", "iptables"):
            raise ConfigError(f"--network must be proxy or iptables, not {self.network}")
        if self.network == "iptables" and self.runtime not in ("docker", "ssh"):
            raise ConfigError("--network iptables needs --runtime docker")
        if self.seed is not None and self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, not {self.seed}")
        if self.runtime == "compose":
            self._validate_compose()
        elif self.compose_file is not None or self.compose_project is not None:
            raise ConfigError("--compose-file and --compose-project need --runtime compose")
        self._validate_ssh()

    def _validate_ssh(self) -> None:
        """Hosts come from an inventory (or a spec's [ssh] table); links are faulted by
        iptables on the hosts, so no proxy applies."""
        if self.runtime != "ssh":
            if self.inventory is not None:
                raise ConfigError("--inventory needs --runtime ssh")
            if self.host_clock:
                raise ConfigError("--host-clock needs --runtime ssh")
            return
        if self.toxiproxy_url:
            raise ConfigError(
                "--runtime ssh faults links with iptables on the hosts, not through a proxy"
            )
        if self.inventory is None and not spec_has_ssh_table(self.target):
            raise ConfigError(
                "--runtime ssh needs --inventory FILE (or a target spec file with an [ssh] table)"
            )

    def _validate_intervals(self) -> None:
        """Fault and heal intervals: long enough to apply a fault, few enough faults."""
        for flag, value in (("--fault-seconds", self.fault_s), ("--heal-seconds", self.heal_s)):
            if value is None:
                continue
            if not value > 0:
                raise ConfigError(f"{flag} must be positive, not {value}")
            if value < MIN_INTERVAL_S:
                raise ConfigError(
                    f"{flag} must be at least {MIN_INTERVAL_S:g} s (time to apply and heal "
                    f"a fault), not {value:g}"
                )
            _at_most(flag, value, MAX_TIME_LIMIT_S)
        if self.fault_s is not None and self.heal_s is not None:
            check_fault_count(self.time_limit, self.fault_s, self.heal_s)

    def _validate_compose(self) -> None:
        """An attached compose cluster brings its own proxy and its own node commands."""
        if self.network != "proxy" or self.toxiproxy_url:
            raise ConfigError("--runtime compose faults links through the compose file's proxy")
        check_compose_clock(name for spec in self.nemeses for name in spec.names)
        if self.options:
            raise ConfigError("-o target options cannot reach nodes that compose started")

    def with_seed(self) -> RunConfig:
        """Fix the seed now (drawn at random when absent) so the run can be repeated."""
        if self.seed is None:
            self.seed = random.SystemRandom().randrange(2**31)
        return self

    @property
    def target_name(self) -> str:
        return self.target if isinstance(self.target, str) else str(self.target.name)

    @property
    def nemesis_label(self) -> str:
        if self.scenario is not None:
            return "scenario-" + Path(self.scenario).stem
        return "+".join(n.name.replace("&", "-with-") for n in self.nemeses) or "none"


def spec_has_ssh_table(target: Any) -> bool:
    """Does ``target`` name a spec file with an ``[ssh]`` table (its inventory)?"""
    if not isinstance(target, str) or not target.endswith(".toml"):
        return False
    try:
        data = read_toml(Path(target), "target spec")
    except ChaoskitError:
        return False  # the plan reports an unreadable spec in its own words
    return isinstance(data.get("ssh"), dict)


def _at_most(flag: str, value: float, limit: float) -> None:
    if value > limit:
        raise ConfigError(f"{flag} must be at most {limit:g} s (a day), not {value:g}")


def check_fault_count(time_limit: float, fault_s: float, heal_s: float) -> None:
    """Refuse a schedule of more than ``MAX_FAULTS`` faults (checked again once the plan
    has filled in the target's default intervals)."""
    expected = time_limit / (fault_s + heal_s)
    if expected > MAX_FAULTS:
        raise ConfigError(
            f"a {time_limit:g} s run with {fault_s:g} s faults and {heal_s:g} s heals "
            f"would schedule about {expected:.0f} faults; at most {MAX_FAULTS} per run: "
            "lengthen --fault-seconds/--heal-seconds or shorten --time-limit"
        )


def parse_options(items: list[str], *, what: str = "option") -> dict[str, str]:
    """``["bug=stale-read", "tick-ms=5"]`` -> a dict; a ``ConfigError`` on bad syntax."""
    out: dict[str, str] = {}
    for item in items:
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{what} '{item}' is not of the form key=value")
        out[key.strip()] = value.strip()
    return out


def parse_nemeses(text: str) -> list[NemesisSpec]:
    """``"kill,partition:mode=hang"`` -> specs; ``"none"`` or ``""`` -> no nemesis."""
    parts = [p for p in text.split(",") if p.strip()]
    if parts == ["none"]:
        return []
    return [NemesisSpec.parse(p) for p in parts]


def check_compose_clock(nemeses: Iterable[str]) -> None:
    """Compose starts its nodes without libfaketime: refuse clock nemeses (named by
    ``--nemesis`` here, by a scenario file's steps when the run is planned)."""
    if any(name.startswith("clock") for name in nemeses):
        raise ConfigError(
            "clock nemeses need --runtime local, docker or ssh (compose nodes "
            "are not started with libfaketime)"
        )
