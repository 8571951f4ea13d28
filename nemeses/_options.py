"""Parsing and checking nemesis options (``--nemesis partition:mode=hang``).

Every nemesis takes its options as strings and must reject what it does not know
with a ``ConfigError`` naming the nemesis, the option and what would be accepted,
before the run starts.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from chaoskit.core.network import LinkMode
from chaoskit.errors import ConfigError

#: How many victims: a fixed number or a share of the cluster (Jepsen's targets).
COUNT_WORDS = ("one", "minority", "majority", "all")
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


def parse_count(nemesis: str, value: str) -> str | int:
    """``one``, ``minority``, ``majority``, ``all`` or a positive number of nodes."""
    if value in COUNT_WORDS:
        return value
    if value.isascii() and value.isdigit():
        return parse_int(nemesis, "count", value, minimum=1)
    raise ConfigError(
        f"nemesis '{nemesis}': count must be a positive number or one of "
        f"{', '.join(COUNT_WORDS)}, not '{value}'"
    )


def check_count(nemesis: str, count: object, nodes: int) -> None:
    """A fixed number of victims must exist in the cluster: ``count=9`` on 5 nodes is a
    mistake (it would silently hit all 5), refused before the run."""
    if isinstance(count, int) and count > nodes:
        raise ConfigError(
            f"nemesis '{nemesis}': count={count} is more than the {nodes} node(s) of the "
            "cluster (use count=all to hit every node)"
        )
