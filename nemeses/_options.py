"""Parsing and checking nemesis options (``--nemesis partition:mode=hang``).

Every nemesis takes its options as strings and must reject what it does not know
with a ``ConfigError`` naming the nemesis, the option and what would be accepted,
before the run starts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from chaoskit.core.nemesis import selector_problem
from chaoskit.core.network import LinkMode
from chaoskit.errors import ConfigError

LINK_MODES: tuple[LinkMode, ...] = ("cut", "hang")
DIRECTIONS = ("both", "in", "out")


def check_keys(nemesis: str, options: Mapping[str, str], allowed: Collection[str]) -> None:
    """Refuse any option that ``nemesis`` does not take."""
    for key in options:
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"nemesis '{nemesis}' has no option '{key}' (known: {known})")


def parse_choice(nemesis: str, key: str, value: str, choices: Collection[str]) -> str:
    """One of a few words, e.g. ``mode=cut|hang``."""
    if value not in choices:
        raise ConfigError(
            f"nemesis '{nemesis}': {key} must be one of {', '.join(choices)}, not '{value}'"
        )
    return value


def parse_mode(nemesis: str, value: str) -> LinkMode:
    """``cut`` (refuse and reset) or ``hang`` (silent, only time-outs notice)."""
    return "hang" if parse_choice(nemesis, "mode", value, LINK_MODES) == "hang" else "cut"


def parse_int(
    nemesis: str, key: str, value: str, *, minimum: int = 0, maximum: int | None = None
) -> int:
    """A whole number not below ``minimum`` (nor above ``maximum``)."""
    try:
        number = int(value)
    except ValueError:
        message = f"nemesis '{nemesis}': {key} must be a whole number, not '{value}'"
        raise ConfigError(message) from None
    if number < minimum:
        raise ConfigError(f"nemesis '{nemesis}': {key} must be at least {minimum}, not {number}")
    if maximum is not None and number > maximum:
        raise ConfigError(f"nemesis '{nemesis}': {key} must be at most {maximum}, not {number}")
    return number


def parse_targets(nemesis: str, value: str) -> str:
    """``count=``: whom the nemesis hits by default, any target selector (``minority``,
    ``leader``, ``3``, ...; docs/scenarios.md)."""
    problem = selector_problem(value)
    if problem:
        raise ConfigError(f"nemesis '{nemesis}': count: {problem}")
    return value


def check_count(nemesis: str, count: object, nodes: int) -> None:
    """A fixed number of victims must exist in the cluster: ``count=9`` on 5 nodes is a
    mistake (it would silently hit all 5), refused before the run."""
    if isinstance(count, str) and count.isascii() and count.isdigit():
        count = int(count)
    if isinstance(count, int) and count > nodes:
        raise ConfigError(
            f"nemesis '{nemesis}': count={count} is more than the {nodes} node(s) of the "
            "cluster (use count=all to hit every node)"
        )


class TargetedOptions:
    """The options every nemesis that hits a group of nodes shares: ``count=`` (any
    target selector, stored as ``default_targets``), checked against the cluster size
    before the run; a subclass reads its own options in ``_configure``."""

    name = ""
    options: tuple[str, ...] = ()
    default_targets = "minority"

    def configure(self, options: Mapping[str, str]) -> None:
        """Take this nemesis's options; an unknown one is a ``ConfigError``."""
        check_keys(self.name, options, self.options)
        if "count" in options:
            self.default_targets = parse_targets(self.name, options["count"])
        self._configure(options)

    def _configure(self, options: Mapping[str, str]) -> None:
        pass

    def check_cluster(self, nodes: int) -> None:
        """A fixed count needs that many nodes (a selector such as ``minority`` or
        ``leader`` always fits)."""
        check_count(self.name, self.default_targets, nodes)
