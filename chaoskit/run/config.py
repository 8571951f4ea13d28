"""RunConfig: everything that defines one run, and everything needed to repeat it.

Built from CLI flags, a pytest marker or a nightly matrix cell through the settings
table (settings.py), validated before anything starts, and stored with every run
(``config.json``, with the command that repeats it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaoskit.core.target import POLICIES, Policy
from chaoskit.errors import ConfigError

DEFAULT_NODES = 5
DEFAULT_TIME_LIMIT = 60.0
DEFAULT_STORE = Path("runs")
MAX_NODES = 15


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
    #: ``--runtime compose``: the compose file (default ``docker-compose.yml``) and,
    #: optionally, its project name.
    compose_file: Path | None = None
    compose_project: str | None = None
    #: ``--scenario``: the steps of this scenario file instead of the random schedule.
    scenario: Path | None = None
    #: What this run re-runs, set by ``chaoskit replay`` and ``chaoskit shrink``
    #: (``{"replay_of": RUN, "purpose": ...}``): written to config.json, not a setting.
    origin: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.runtime == "compose" and self.compose_file is None:
            self.compose_file = Path("docker-compose.yml")

    def validate(self) -> None:
        """Reject nonsense before anything starts: a ``ConfigError`` naming the field."""
        if not 1 <= self.nodes <= MAX_NODES:
            raise ConfigError(f"--nodes must be between 1 and {MAX_NODES}, not {self.nodes}")
        if not self.time_limit > 0:
            raise ConfigError(f"--time-limit must be positive, not {self.time_limit}")
        if self.concurrency is not None and not 0 <= self.concurrency <= 200:
            raise ConfigError(f"--concurrency must be between 0 and 200, not {self.concurrency}")
        if not 0 <= self.bound_clients <= 200:
            raise ConfigError(
                f"--bound-clients must be between 0 and 200, not {self.bound_clients}"
            )
        if self.policy is not None and self.policy not in POLICIES:
            raise ConfigError(f"--policy must be one of {', '.join(POLICIES)}, not {self.policy}")
        if self.election_deadline is not None and not self.election_deadline > 0:
            raise ConfigError("the election deadline must be positive")
        for name, value in (("fault_s", self.fault_s), ("heal_s", self.heal_s)):
            if value is not None and not value > 0:
                raise ConfigError(f"{name} must be positive, not {value}")
        if self.network not in ("proxy", "iptables"):
            raise ConfigError(f"--network must be proxy or iptables, not {self.network}")
        if self.network == "iptables" and self.runtime != "docker":
            raise ConfigError("--network iptables needs --runtime docker")
        if self.seed is not None and self.seed < 0:
            raise ConfigError(f"--seed must be a non-negative integer, not {self.seed}")
        if self.runtime == "compose":
            self._validate_compose()
        elif self.compose_file is not None or self.compose_project is not None:
            raise ConfigError("--compose-file and --compose-project need --runtime compose")

    def _validate_compose(self) -> None:
        """An attached compose cluster brings its own proxy and its own node commands."""
        if self.network != "proxy" or self.toxiproxy_url:
            raise ConfigError("--runtime compose faults links through the compose file's proxy")
        if any(name.startswith("clock") for spec in self.nemeses for name in spec.names):
            raise ConfigError(
                "clock nemeses need --runtime local or docker (compose nodes "
                "are not started with libfaketime)"
            )
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
