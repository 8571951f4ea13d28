"""Scenario files (TOML): reading them with one-line errors, and writing them.

The format is in docs/scenarios.md. Every mistake is a ``ConfigError`` naming the file,
the step and the field (``stale.toml: step 2: duration: must be a positive number of
seconds, not -1``). The ``[run]`` table is kept as written: the run settings table
(``chaoskit.run.settings``) checks it like a pytest marker's keywords.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from chaoskit.errors import ConfigError
from chaoskit.scenario import targets as selectors
from chaoskit.scenario.model import AFTER, WHEN, Scenario, Step

TOP_KEYS = ("scenario", "run", "step")
SCENARIO_KEYS = ("name", "description", "origin")
STEP_KEYS = (
    "nemesis",
    "options",
    "targets",
    "at",
    "after",
    "when",
    "stable",
    "delay",
    "duration",
    "repeat",
    "timeout",
    "note",
)


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no such scenario file: {path}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the scenario file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_scenario(data, where=str(path))


def parse_scenario(data: Mapping[str, Any], *, where: str) -> Scenario:
    """A ``Scenario`` from parsed TOML; ``where`` starts every error message."""
    _known(data, TOP_KEYS, where, "top-level key")
    head = data.get("scenario", {})
    if not isinstance(head, Mapping):
        raise ConfigError(f"{where}: [scenario] must be a table")
    _known(head, SCENARIO_KEYS, f"{where}: [scenario]", "key")
    run = data.get("run", {})
    if not isinstance(run, Mapping):
        raise ConfigError(f"{where}: [run] must be a table of run settings")
    raw_steps = data.get("step", [])
    if not isinstance(raw_steps, list) or not raw_steps:
        raise ConfigError(f"{where}: no [[step]]: a scenario needs at least one step")
    steps = tuple(parse_step(raw, where=f"{where}: step {i}") for i, raw in enumerate(raw_steps, 1))
    return Scenario(
        steps=steps,
        run=dict(run),
        name=str(head.get("name", "")),
        description=str(head.get("description", "")),
        origin=dict(head.get("origin", {})),
    )


def parse_step(raw: Any, *, where: str) -> Step:
    """One ``[[step]]`` table."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: must be a table")
    _known(raw, STEP_KEYS, where, "field")
    name, options = _nemesis(raw, where)
    when = _word(raw, "when", WHEN, where)
    step = Step(
        nemesis=name,
        options=options,
        targets=_targets(raw, where),
        at=_seconds(raw, "at", where, zero=True),
        after=_word(raw, "after", AFTER, where) or "end",
        when=when,
        stable=_seconds(raw, "stable", where) or 0.0,
        delay=_seconds(raw, "delay", where, zero=True) or 0.0,
        duration=_seconds(raw, "duration", where, zero=name is None) or 0.0,
        repeat=_repeat(raw, where),
        timeout=_seconds(raw, "timeout", where),
        note=_text(raw, "note", where),
    )
    _consistent(step, raw, where)
    return step


def _consistent(step: Step, raw: Mapping[str, Any], where: str) -> None:
    if step.nemesis is not None and "duration" not in raw:
        raise ConfigError(f"{where}: duration: a fault step needs duration = SECONDS")
    if step.at is not None and "after" in raw:
        raise ConfigError(f"{where}: after: give at (from the start) or after, not both")
    if step.when == "stable" and "stable" not in raw:
        raise ConfigError(f'{where}: stable: when = "stable" needs stable = SECONDS')
    if "stable" in raw and step.when != "stable":
        raise ConfigError(f'{where}: stable: only with when = "stable"')
    if step.timeout is not None and step.when is None:
        raise ConfigError(f"{where}: timeout: only with when (it bounds the wait for it)")
    if step.nemesis is None and "targets" in raw:
        raise ConfigError(f"{where}: targets: a step without a nemesis hits nobody")
    if step.nemesis is None and step.when is None and not (step.delay or step.duration):
        raise ConfigError(f"{where}: does nothing: give a nemesis, a when, a delay or a duration")


def _known(table: Mapping[str, Any], known: tuple[str, ...], where: str, what: str) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown {what} {unknown[0]!r} (known: {', '.join(known)})")


def _nemesis(raw: Mapping[str, Any], where: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    """The nemesis name, and its options from ``name:k=v;...`` and the ``options`` table."""
    value = raw.get("nemesis")
    if value is None:
        if "options" in raw:
            raise ConfigError(f"{where}: options: a step without a nemesis takes none")
        return None, ()
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: nemesis: must be a nemesis name, not {value!r}")
    if "&" in value or "," in value:
        raise ConfigError(
            f"{where}: nemesis: one nemesis per step; for faults together write a second "
            'step with after = "start"'
        )
    name, _, rest = value.strip().partition(":")
    options: dict[str, str] = {}
    for item in (i for i in rest.split(";") if i.strip()):
        key, sep, val = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where}: nemesis: option '{item}' is not of the form key=value")
        options[key.strip()] = val.strip()
    table = raw.get("options", {})
    if not isinstance(table, Mapping):
        raise ConfigError(f'{where}: options: must be a table, e.g. {{ mode = "hang" }}')
    for key, val in table.items():
        if isinstance(val, Mapping | list):
            raise ConfigError(f"{where}: options: {key} must be a single value")
        options[str(key)] = str(val).lower() if isinstance(val, bool) else str(val)
    return name, tuple(options.items())


def _targets(raw: Mapping[str, Any], where: str) -> str | tuple[str, ...] | None:
    value = raw.get("targets")
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{where}: targets: must be a selector or a list of nodes")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, list):
        value = tuple(value)
    if not isinstance(value, str | tuple):
        raise ConfigError(f"{where}: targets: must be a selector or a list of nodes")
    problem = selectors.check(value)
    if problem:
        raise ConfigError(f"{where}: targets: {problem}")
    return value


def _seconds(raw: Mapping[str, Any], key: str, where: str, *, zero: bool = False) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        want = "a number of seconds, 0 or more" if zero else "a positive number of seconds"
        raise ConfigError(f"{where}: {key}: must be {want}, not {value!r}")
    return float(value)


def _word(raw: Mapping[str, Any], key: str, allowed: tuple[str, ...], where: str) -> Any:
    value = raw.get(key)
    if value is not None and value not in allowed:
        raise ConfigError(f"{where}: {key}: must be one of {', '.join(allowed)}, not {value!r}")
    return value


def _repeat(raw: Mapping[str, Any], where: str) -> int:
    value = raw.get("repeat", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10_000:
        raise ConfigError(f"{where}: repeat: must be a whole number from 1 to 10000, not {value!r}")
    return value


def _text(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}: {key}: must be text, not {value!r}")
    return value


# -- writing -------------------------------------------------------------------------------


def scenario_toml(scenario: Scenario, *, comments: list[str] | None = None) -> str:
    """The scenario as a file that ``load_scenario`` reads back to the same scenario."""
    data: dict[str, Any] = {}
    head = {
        k: v
        for k, v in (
            ("name", scenario.name),
            ("description", scenario.description),
            ("origin", dict(scenario.origin)),
        )
        if v
    }
    if head:
        data["scenario"] = head
    if scenario.run:
        data["run"] = {k: v for k, v in scenario.run.items() if v is not None}
    header = "".join(f"# {line}\n" for line in comments or [])
    # Steps as [[step]] blocks after the tables, whatever their length (tomli-w would
    # write short ones inline, on one line with the others).
    steps = "".join(
        "\n[[step]]\n" + "".join(f"{k} = {_value(v)}\n" for k, v in step.to_json().items())
        for step in scenario.steps
    )
    return header + tomli_w.dumps(data) + steps


def _value(value: Any) -> str:
    """One TOML value; a table (a step's options) and a list (its targets) inline."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return tomli_w.dumps({"v": value})[len("v = ") :].rstrip("\n")


def write_scenario(path: Path, scenario: Scenario, *, comments: list[str] | None = None) -> Path:
    """Write the scenario file atomically; its path."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(scenario_toml(scenario, comments=comments), encoding="utf-8")
    tmp.replace(path)
    return path
