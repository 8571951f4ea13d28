"""Reading a run setting's value, from text (the command line) or from TOML and Python
values (a matrix, a pytest marker): each function takes ``(value, key)`` and returns
the ``RunConfig`` field's value, or raises a ``ConfigError`` naming the setting; and
the ``Setting`` row that the table of settings.py is made of.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoskit.errors import ConfigError
from chaoskit.run.config import parse_nemeses, parse_options

Convert = Callable[[Any, str], Any]


def _name(key: str) -> str:
    return "--" + key.replace("_", "-")


def text(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{_name(key)} needs a non-empty text, not {value!r}")
    return value.strip()


def optional_text(value: Any, key: str) -> str | None:
    return None if value is None else text(value, key)


def integer(value: Any, key: str) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{_name(key)} must be an integer, not {value!r}")
    if isinstance(value, int):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{_name(key)} must be an integer, not {value!r}") from None


def optional_integer(value: Any, key: str) -> int | None:
    return None if value is None else integer(value, key)


def number(value: Any, key: str) -> float:
    """A finite number: ``inf`` and ``nan`` are refused (a run must end)."""
    if isinstance(value, bool):
        raise ConfigError(f"{_name(key)} must be a number, not {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{_name(key)} must be a number, not {value!r}") from None
    if not math.isfinite(result):
        raise ConfigError(f"{_name(key)} must be a finite number, not {value!r}")
    return result


def optional_number(value: Any, key: str) -> float | None:
    return None if value is None else number(value, key)


def path(value: Any, key: str) -> Path:
    if isinstance(value, Path):
        value = str(value)
    return Path(text(value, key))


def optional_path(value: Any, key: str) -> Path | None:
    return None if value is None else path(value, key)


def optional_file(value: Any, key: str) -> Path | None:
    """A file named on the command line, made absolute (as a spec path is), so the
    repeat command and the registry of runs find it from any folder."""
    return None if value is None else Path(text(str(value), key)).expanduser().resolve()


def target(value: Any, key: str) -> Any:
    """A target name, a spec file (made absolute, so the repeat command works from any
    folder), or a ``Target`` object (pytest)."""
    if not isinstance(value, str | Path):
        return value
    name = text(str(value), key)
    # Absolute, not resolved: a symbolic link keeps its own name (and its .toml).
    return os.path.abspath(name) if name.endswith(".toml") else name


def nemeses(value: Any, key: str) -> list[Any]:
    """``"kill,partition:mode=hang"``, a list of such texts, or ``"none"``."""
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    if not isinstance(value, str) or not value.strip(" ,"):
        raise ConfigError(f"{_name(key)} names no nemesis ({value!r}): give one or more, or 'none'")
    return parse_nemeses(value)


def options(value: Any, key: str) -> dict[str, str]:
    """``-o k=v`` texts, or a table."""
    if isinstance(value, Mapping):
        return {str(k): str(v) for k, v in value.items()}
    return parse_options(items(key, value), what="-o option")


def names(value: Any, key: str) -> list[str] | None:
    """A list of names (``--checker a --checker b``); none given is ``None``."""
    return [text(item, key) for item in items(key, value)] or None


def choice(*allowed: str, optional: bool = False) -> Convert:
    def convert(value: Any, key: str) -> str | None:
        if value is None and optional:
            return None
        if value not in allowed:
            raise ConfigError(f"{_name(key)} must be one of {', '.join(allowed)}, not {value!r}")
        return str(value)

    return convert


def switch(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, not {value!r}")
    return value


def items(key: str, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [f"{k}={v}" for k, v in value.items()]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    raise ConfigError(f"{_name(key)} must be a list, not {value!r}")


def as_text(value: Any) -> str:
    """A value as one command-line argument (the inverse of the converters above)."""
    if isinstance(value, float):
        short = format(value, "g")
        return short if float(short) == value else repr(value)  # exact, and 60 not 60.0
    if isinstance(value, list):
        return ",".join(str(v) for v in value) or "none"
    return str(value)


@dataclass(frozen=True)
class Setting:
    """One setting of a run: its ``RunConfig`` field, its names and how to read it."""

    #: The ``RunConfig`` attribute it sets.
    field: str
    #: Its name as a marker keyword and a matrix key; the CLI flag is derived from it.
    key: str
    convert: Convert
    help: str
    #: The CLI's long flag, when not ``--`` + key with dashes.
    flag: str | None = None
    short: str | None = None
    metavar: str | None = None
    #: Given several times on the command line (``-o k=v -o k2=v2``).
    repeated: bool = False
    #: An on/off switch (``--no-progress``): the flag sets ``flag_value``.
    flag_value: Any = None
    #: Part of the experiment, so written into the repeat command (display-only is not).
    in_command: bool = True
    #: Shown as the default in ``--help``.
    shown_default: str | None = None
    #: Set by the command line only: a marker or a matrix cell gets it from the session
    #: (``--chaos-store``, ``nightly --store``) or not at all (the live display).
    cli_only: bool = False

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.key.replace("_", "-")

    def render(self, value: Any) -> list[str]:
        """The argv that sets ``value`` (nothing for a default-valued switch)."""
        if self.flag_value is not None:
            return [self.cli_flag] if value == self.flag_value else []
        if self.repeated:
            return [arg for item in items(self.key, value) for arg in (self.cli_flag, item)]
        return [self.cli_flag, as_text(value)]
