"""Find targets, nemeses, workloads and checkers through entry points.

Built-ins register exactly as third-party packages do, in the groups
``chaoskit.targets``, ``chaoskit.nemeses``, ``chaoskit.workloads`` and
``chaoskit.checkers``; each entry point names a class (or factory) that takes no
arguments and returns the plug-in.
"""

from __future__ import annotations

import difflib
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

from chaoskit.errors import ConfigError

Kind = Literal["targets", "nemeses", "workloads", "checkers"]
KINDS: tuple[Kind, ...] = ("targets", "nemeses", "workloads", "checkers")
_SINGULAR = {
    "targets": "target",
    "nemeses": "nemesis",
    "workloads": "workload",
    "checkers": "checker",
}


@cache
def _entry_points(kind: Kind) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=f"chaoskit.{kind}")}


def names(kind: Kind) -> list[str]:
    """The names registered for ``kind``, sorted."""
    return sorted(_entry_points(kind))


def load(kind: Kind, name: str) -> Any:
    """Instantiate the plug-in ``name`` of ``kind``; a ``ConfigError`` if unknown."""
    eps = _entry_points(kind)
    if name not in eps:
        raise ConfigError(unknown_message(_SINGULAR[kind], name, list(eps)))
    factory = eps[name].load()
    return factory()


def unknown_message(what: str, name: str, known: list[str]) -> str:
    """``unknown nemesis 'partiton' (did you mean 'partition'?)``."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(known))})"
    return f"unknown {what} '{name}'{hint}"
