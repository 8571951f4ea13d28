"""Reading a spec file's tables field by field, with errors that name file, table and field."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from types import SimpleNamespace
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


#: Values of the right types for every placeholder: a template is formatted with them
#: once when the spec is read, so that ``{id.x}``, ``{port[0]}`` or ``{id:d}`` fail here,
#: with the field named, and not when a node starts.
SAMPLES: dict[str, Any] = {
    "id": "n1",
    "index": 0,
    "host": "127.0.0.1",
    "port": 7001,
    "peer_port": 7001,
    "data_dir": "/data/n1",
    "peers": "n2=127.0.0.1:7002",
    "cluster": "n2=127.0.0.1:7002",
    "peer": SimpleNamespace(id="n2", host="127.0.0.1", port=7002),
    "key": "k",
    "value": "1",
    "from": "1",
    "to": "2",
}
#: A format spec wider than this is refused before it is tried (``{id:>999999999}``
#: would build a gigabyte string).
_WIDE = re.compile(r"\d{5,}")


def check_template(text: str, allowed: set[str], where: str) -> None:
    """Every ``{placeholder}`` of ``text`` is known and formats; else a ``SpecError``."""
    try:
        fields = list(string.Formatter().parse(text))
    except ValueError as exc:  # a lone "{" or "}"
        raise SpecError(f"{where}: bad template {text!r}: {exc} (write {{{{ for a brace)") from None
    for _, name, spec, _ in fields:
        if name is None:
            continue
        root = name.split(".")[0].split("[")[0]
        if root not in allowed:
            raise SpecError(
                f"{where}: unknown placeholder '{{{name}}}' (known: {', '.join(sorted(allowed))})"
            )
        if spec and _WIDE.search(spec):
            raise SpecError(f"{where}: placeholder '{{{name}:{spec}}}' is too wide")
    try:
        text.format(**{k: SAMPLES[k] for k in allowed})
    except (ValueError, KeyError, IndexError, AttributeError, TypeError) as exc:
        raise SpecError(f"{where}: template {text!r} cannot be filled in: {exc}") from None
