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

from chaoskit.core.checker import Checker
from chaoskit.core.nemesis import Nemesis
from chaoskit.core.target import Target
from chaoskit.core.workload import Workload
from chaoskit.errors import ConfigError

Kind = Literal["targets", "nemeses", "workloads", "checkers"]
KINDS: tuple[Kind, ...] = ("targets", "nemeses", "workloads", "checkers")
#: The contract every plug-in of a kind must implement (checked when it is loaded).
CONTRACTS: dict[Kind, type] = {
    "targets": Target,
    "nemeses": Nemesis,
    "workloads": Workload,
    "checkers": Checker,
}
_SINGULAR = {
    "targets": "target",
    "nemeses": "nemesis",
    "workloads": "workload",
    "checkers": "checker",
}


@cache
def _entry_points(kind: Kind) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=f"chaoskit.{kind}")}


def missing_members(obj: object, protocol: type) -> list[str]:
    """The members of ``protocol`` (attributes and methods) that ``obj`` lacks, sorted."""
    wanted = set(getattr(protocol, "__annotations__", {}))
    wanted |= {n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")}
    return sorted(n for n in wanted if not hasattr(obj, n))


def require(obj: object, protocol: type, what: str, *, hint: str = "") -> None:
    """A ``ConfigError`` unless ``obj`` has every member of ``protocol``.

    Plug-ins are checked once, when a run is planned, so that the engine relies on the
    whole contract instead of probing for optional parts while the run goes.
    """
    missing = missing_members(obj, protocol)
    if missing:
        raise ConfigError(
            f"{what} does not implement chaoskit's {protocol.__name__}: "
            f"missing {', '.join(missing)}{hint}"
        )


def names(kind: Kind) -> list[str]:
    """The names registered for ``kind``, sorted."""
    return sorted(_entry_points(kind))


def load(kind: Kind, name: str) -> Any:
    """Instantiate the plug-in ``name`` of ``kind``; a ``ConfigError`` if it is unknown or
    does not implement its kind's whole contract."""
    eps = _entry_points(kind)
    if name not in eps:
        raise ConfigError(unknown_message(_SINGULAR[kind], name, list(eps)))
    factory = eps[name].load()
    plugin = factory()
    hint = " (subclass chaoskit.TargetBase)" if kind == "targets" else ""
    require(plugin, CONTRACTS[kind], f"{_SINGULAR[kind]} '{name}'", hint=hint)
    return plugin


def unknown_message(what: str, name: str, known: list[str]) -> str:
    """``unknown nemesis 'partiton' (did you mean 'partition'?)``."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(sorted(known))})"
    return f"unknown {what} '{name}'{hint}"
