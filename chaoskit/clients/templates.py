"""The ``{placeholders}`` of argv templates: what a node, a peer and an op offer.

Spec files (chaoskit/spec) and command ops (command.py) build command lines from
Python format strings: ``{host}:{ports.client}``, ``{peer.id}={peer}``. This module
is their one vocabulary: the values for a node (``node_values``), the address objects
behind ``{self}`` and ``{peer}`` (``Endpoint``), and the check that a template uses
only placeholders that exist (``check_template``), so that a typo is a one-line error
when the file loads, not a ``KeyError`` when a node starts.

A placeholder is a dotted path (``ports.client``, ``peer.ports.peer``, ``self.host``);
indexing (``ports[client]``) is not offered, so every name a template may use can be
listed in an error.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from chaoskit.core.target import Address, NodeInfo
from chaoskit.errors import ConfigError

#: A node's own placeholders (besides ``ports.NAME``).
NODE_FIELDS = ("id", "index", "host", "port", "data_dir")
#: A client operation's placeholders.
OP_FIELDS = ("key", "value", "from", "to")
#: The widest a placeholder may be formatted (``{id:>99999999}`` is a mistake, not a
#: command line).
MAX_FIELD_WIDTH = 1000


class Endpoint:
    """A node as another dials it: ``{peer}`` is ``host:port`` (its first peer port),
    ``{peer.host}``, ``{peer.port}``, ``{peer.ports.NAME}`` (each peer port's number)
    and ``{peer.id}``; ``{self}`` has the same shape."""

    def __init__(self, node_id: str, addrs: Mapping[str, Address]) -> None:
        self.id = node_id
        first = next(iter(addrs.values()))
        self.host, self.port = first
        self.ports = SimpleNamespace(**{name: port for name, (_h, port) in addrs.items()})

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)


def endpoint_fields(root: str, peer_ports: Iterable[str]) -> set[str]:
    """The placeholders an ``Endpoint`` named ``root`` offers."""
    names = {root, f"{root}.id", f"{root}.host", f"{root}.port"}
    return names | {f"{root}.ports.{name}" for name in peer_ports}


def node_fields(ports: Iterable[str], extra: Iterable[str] = ()) -> set[str]:
    """The placeholders of a node with the named ``ports``, plus ``extra`` names."""
    return {*NODE_FIELDS, *(f"ports.{name}" for name in ports), *extra}


def node_values(node: NodeInfo, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The values of ``node_fields`` for ``node`` (``extra`` added as they are)."""
    return {
        "id": node.id,
        "index": node.index,
        "host": node.host,
        "port": node.port,
        "ports": SimpleNamespace(**node.ports),
        "data_dir": str(node.data_dir),
        **(extra or {}),
    }


def check_template(text: str, allowed: set[str], where: str) -> None:
    """``ConfigError`` naming ``where`` for a malformed template or a placeholder that
    is not in ``allowed``."""
    try:
        fields = [(name, spec) for _, name, spec, _ in string.Formatter().parse(text) if name]
    except ValueError as exc:
        raise ConfigError(f"{where}: malformed template {text!r}: {exc}") from exc
    for name, spec in fields:
        width = re.search(r"\d+", spec or "")
        if width and int(width.group()) > MAX_FIELD_WIDTH:
            raise ConfigError(
                f"{where}: placeholder {{{name}:{spec}}} in {text!r} is too wide "
                f"(at most {MAX_FIELD_WIDTH} characters)"
            )
    for name, _ in fields:
        if name not in allowed:
            raise ConfigError(
                f"{where}: unknown placeholder {{{name}}} in {text!r} "
                f"(known: {', '.join(sorted(allowed))})"
            )
