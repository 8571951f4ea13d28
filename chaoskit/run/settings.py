"""The settings of a run, written once: every other form of them is derived from here.

A run is configured in four places: ``chaoskit run`` options, the pytest marker
``@pytest.mark.chaos(...)``, the keys of a nightly matrix, and the "repeat with"
command stored with every run. Spelled out by hand four times they drifted (a repeat
command that dropped ``--nemesis none`` ran another experiment). So each setting is
one ``Setting`` row here, and:

- the CLI's ``run`` options are generated from ``SETTINGS`` (``click_options``);
- marker keywords and matrix keys are the settings' ``key`` names, read by
  ``config_from_mapping``;
- the repeat command is ``config_argv``, the inverse of ``config_from_cli``
  (a property test checks config -> argv -> config for any valid config).

Values from the command line are text; from a marker or a matrix they may already be
numbers, lists or tables. Either way a setting's ``convert`` turns them into the
``RunConfig`` field's value or raises a ``ConfigError`` naming the setting.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chaoskit.errors import ConfigError
from chaoskit.run.config import RunConfig
from chaoskit.run.values import (
    Setting,
    choice,
    integer,
    names,
    nemeses,
    number,
    optional_file,
    optional_integer,
    optional_number,
    optional_path,
    optional_text,
    options,
    path,
    switch,
    target,
)
from chaoskit.scenario.files import load_scenario

# -- the table ---------------------------------------------------------------------------

SETTINGS: tuple[Setting, ...] = (
    Setting(
        "target",
        "target",
        target,
        "Target name (see `chaoskit list`) or a target spec file (.toml).",
        short="-t",
        shown_default="raft",
        metavar="NAME|FILE.toml",
    ),
    Setting(
        "nemeses",
        "nemesis",
        nemeses,
        "Fault families, comma-separated, each NAME[:key=value;...]; A&B applies two "
        "together; 'none' for none.",
        short="-n",
        shown_default="partition",
        metavar="A[,B...]",
    ),
    Setting(
        "scenario",
        "scenario",
        optional_file,
        "Run the steps of this scenario file instead of a random schedule (no --nemesis); "
        "its [run] table gives the other settings' defaults.",
        metavar="FILE.toml",
    ),
    Setting("nodes", "nodes", integer, "Cluster size.", shown_default="5", metavar="N"),
    Setting(
        "time_limit",
        "time_limit",
        number,
        "Seconds of faults and load before the final phase.",
        shown_default="60",
        metavar="SECONDS",
    ),
    Setting(
        "seed",
        "seed",
        optional_integer,
        "Seed of every random choice (random if absent).",
        metavar="N",
    ),
    Setting(
        "concurrency",
        "concurrency",
        optional_integer,
        "Logical client processes that follow the leader (default: one per node).",
        metavar="N",
    ),
    Setting(
        "bound_clients",
        "bound_clients",
        integer,
        "Extra clients pinned to one node each (n1, n2, ... in turn), as Jepsen's are: "
        "they stay on a deposed leader, which is how stale reads show.",
        shown_default="0",
        metavar="N",
    ),
    Setting(
        "workload",
        "workload",
        optional_text,
        "Client workload: register, kv, set, none (default: register where supported).",
        short="-w",
        metavar="NAME",
    ),
    Setting(
        "runtime",
        "runtime",
        choice("local", "docker", "compose", "ssh"),
        "Where nodes run: local processes, containers of the run, a running "
        "docker-compose cluster (attached to), or processes on the hosts of an SSH "
        "inventory.",
        shown_default="local",
        metavar="local|docker|compose|ssh",
    ),
    Setting(
        "compose_file",
        "compose_file",
        optional_path,
        "--runtime compose: the compose file [default: docker-compose.yml].",
        metavar="FILE",
    ),
    Setting(
        "compose_project",
        "compose_project",
        optional_text,
        "--runtime compose: the project name (docker -p).",
        metavar="NAME",
    ),
    # -- the ssh runtime (chaoskit/remote; docs/remote-hosts.md) --
    Setting(
        "inventory",
        "inventory",
        optional_file,
        "--runtime ssh: the TOML inventory of hosts (default: the target spec's [ssh] table).",
        metavar="FILE",
    ),
    Setting(
        "host_clock",
        "host_clock",
        switch,
        "--runtime ssh: clock nemeses step the hosts' clocks (date -s) instead of "
        "preloading libfaketime; each host must allow it (host_clock = true).",
        flag="--host-clock",
        flag_value=True,
    ),
    # -- end of the ssh runtime --
    Setting(
        "network",
        "network",
        choice("proxy", "iptables"),
        "Link faults through the fault proxy, or iptables in containers (docker).",
        shown_default="proxy",
        metavar="proxy|iptables",
    ),
    Setting(
        "store",
        "store",
        path,
        "Where runs are stored.",
        shown_default="runs",
        cli_only=True,
        metavar="DIR",
    ),
    Setting(
        "options",
        "options",
        options,
        "Target option, e.g. -o bug=stale-read (repeatable).",
        flag="-o",
        metavar="KEY=VALUE",
        repeated=True,
    ),
    Setting(
        "policy",
        "policy",
        choice("strict", "per-term", optional=True),
        "Split-brain policy (default: the target's).",
        metavar="strict|per-term",
    ),
    Setting(
        "election_deadline",
        "election_deadline",
        optional_number,
        "Seconds a healthy majority may stay leaderless (default: the target's).",
        metavar="SECONDS",
    ),
    Setting(
        "checkers",
        "checkers",
        names,
        "Run only these checkers (repeatable; default: leader checks + the workload's).",
        flag="--checker",
        repeated=True,
        metavar="NAME",
    ),
    Setting(
        "toxiproxy_url",
        "toxiproxy_url",
        optional_text,
        "Drive a real Toxiproxy at this URL instead of the embedded proxy.",
        metavar="URL",
    ),
    Setting(
        "fault_s",
        "fault_seconds",
        optional_number,
        "Mean length of a fault interval (default: sized to the election timeout).",
        metavar="SECONDS",
    ),
    Setting(
        "heal_s",
        "heal_seconds",
        optional_number,
        "Mean length of a healthy interval (default: sized to the election timeout).",
        metavar="SECONDS",
    ),
    Setting(
        "fail_fast",
        "fail_fast",
        switch,
        "Stop at the first anomaly the live checks find: heal everything, store and "
        "check the run (results.json says it stopped early).",
        flag="--fail-fast",
        flag_value=True,
    ),
    Setting(
        "progress",
        "progress",
        switch,
        "No live display.",
        flag="--no-progress",
        flag_value=False,
        in_command=False,
        cli_only=True,
    ),
)

BY_KEY: dict[str, Setting] = {s.key: s for s in SETTINGS}


#: Setting keys a marker or a matrix cell may give.
MAPPING_KEYS: tuple[str, ...] = tuple(s.key for s in SETTINGS if not s.cli_only)


def config_from_mapping(
    values: Mapping[str, Any],
    *,
    where: str,
    session: Mapping[str, Any] | None = None,
    defaults: Mapping[str, Any] | None = None,
) -> RunConfig:
    """A ``RunConfig`` from setting keys (a pytest marker, a matrix cell).

    ``values`` may hold ``MAPPING_KEYS`` only (others are refused, the known ones
    listed); ``session`` adds command-line-only settings of the caller (the store);
    ``defaults`` are the caller's own defaults, below a scenario file's ``[run]``.
    ``where`` prefixes every error (``tests/test_x.py::test_y: ...``).
    """
    _known_keys(values, where)
    try:
        return _config({**values, **(session or {})}, defaults or {})
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def config_from_cli(params: Mapping[str, Any]) -> RunConfig:
    """A ``RunConfig`` from the ``run`` command's parsed options (absent: defaults)."""
    return _config({k: v for k, v in params.items() if k in BY_KEY and v not in (None, ())})


def _known_keys(values: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(values) - set(MAPPING_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(MAPPING_KEYS)}"
        )


def _config(values: Mapping[str, Any], defaults: Mapping[str, Any] | None = None) -> RunConfig:
    """Settings given (``values``) over a scenario file's ``[run]`` over ``defaults``."""
    merged = {**(defaults or {}), **_scenario_run(values), **values}
    fields = {BY_KEY[k].field: BY_KEY[k].convert(v, k) for k, v in merged.items()}
    return RunConfig(**fields)


def _scenario_run(values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[run]`` table of the scenario file in ``values``, if any, checked."""
    if values.get("scenario") is None:
        return {}
    if "nemesis" in values:
        raise ConfigError("--scenario names its own faults: leave out --nemesis")
    path = BY_KEY["scenario"].convert(values["scenario"], "scenario")
    run = dict(load_scenario(path).run)
    where = f"{path}: [run]"
    _known_keys(run, where)
    for key in ("nemesis", "scenario"):
        if key in run:
            raise ConfigError(f"{where}: {key} cannot be set here (the steps are the faults)")
    return run


def config_argv(config: RunConfig) -> list[str]:
    """``chaoskit run ...`` arguments that give back ``config``: every setting that is
    part of the experiment, defaults included, so that a later change of a default
    cannot change what the command repeats."""
    argv = ["chaoskit", "run"]
    for setting in SETTINGS:
        if not setting.in_command or (setting.key == "nemesis" and config.scenario is not None):
            continue
        value = config.target_name if setting.field == "target" else getattr(config, setting.field)
        if value is None or (setting.repeated and not value):
            continue
        argv += setting.render(value)
    return argv


def repeat_command(config: RunConfig) -> str:
    """The shell command that repeats the run of ``config`` exactly."""
    return shlex.join(config_argv(config))


def config_json(config: RunConfig) -> dict[str, Any]:
    """Every setting of ``config`` as JSON (``config.json``), and the repeat command."""
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        value = getattr(config, setting.field)
        if setting.field == "target":
            value = config.target_name
        elif setting.field == "nemeses":
            value = [str(n) for n in value]
        elif isinstance(value, Path):
            value = str(value)
        elif isinstance(value, dict | list):
            value = type(value)(value)
        out[setting.field] = value
    out["command"] = repeat_command(config)
    return out


def config_from_argv(argv: list[str]) -> RunConfig:
    """The ``RunConfig`` of a stored "repeat with" command (``config_argv``'s inverse),
    read with the settings table alone; a ``ConfigError`` for what it does not know."""
    if argv[:2] != ["chaoskit", "run"]:
        raise ConfigError(f"not a chaoskit run command: {shlex.join(argv[:2])}")
    flags = {s.cli_flag: s for s in SETTINGS} | {s.short: s for s in SETTINGS if s.short}
    params: dict[str, Any] = {}
    rest = iter(argv[2:])
    for token in rest:
        setting = flags.get(token)
        if setting is None:
            raise ConfigError(f"the stored command has an unknown option {token}")
        if setting.flag_value is not None:
            params[setting.key] = setting.flag_value
            continue
        value = next(rest, None)
        if value is None:
            raise ConfigError(f"the stored command ends before the value of {token}")
        if setting.repeated:
            params.setdefault(setting.key, []).append(value)
        else:
            params[setting.key] = value
    return config_from_cli(params)


def config_mapping(config: RunConfig) -> dict[str, Any]:
    """The settings of ``config`` that make the experiment, by key, as a scenario
    file's ``[run]`` table holds them (no nemesis: the steps are the faults)."""
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.cli_only or not setting.in_command or setting.key in ("nemesis", "scenario"):
            continue
        value = config.target_name if setting.field == "target" else getattr(config, setting.field)
        if value is None or (setting.repeated and not value):
            continue
        out[setting.key] = str(value) if isinstance(value, Path) else value
    return out
