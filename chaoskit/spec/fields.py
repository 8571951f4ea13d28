"""Reading a spec file's tables field by field, with errors that name file, table and field."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from chaoskit.errors import ConfigError


class SpecError(ConfigError):
    """A spec file with a missing or mistyped field (the message names it)."""


def get(
    table: Mapping[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    where: str,
    default: Any = ...,
) -> Any:
    if key not in table:
        if default is ...:
            raise SpecError(f"{where}: missing field '{key}'")
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise SpecError(f"{where}: field '{key}' must be {names}, not {type(value).__name__}")
    return value


def no_unknown(table: Mapping[str, Any], known: set[str], where: str) -> None:
    unknown = set(table) - known
    if unknown:
        raise SpecError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")


def str_list(table: Mapping[str, Any], key: str, where: str, default: Any = ...) -> list[str]:
    value = get(table, key, list, where, default)
    if not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}: field '{key}' must be a list of strings")
    return list(value)


def check_template(text: str, allowed: set[str], where: str) -> None:
    for _, name, _, _ in string.Formatter().parse(text):
        if name is None:
            continue
        root = name.split(".")[0].split("[")[0]
        if root not in allowed:
            raise SpecError(
                f"{where}: unknown placeholder '{{{name}}}' (known: {', '.join(sorted(allowed))})"
            )
