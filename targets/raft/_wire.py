"""Raft messages and client commands as JSON, with strict validation of what comes in.

Anything a peer or client sends is checked field by field before it reaches the core:
a wrong type, a missing field, an unknown node id or an absurd number is a
``BadRequest`` (answered 400), never an exception inside the state machine.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from chaoskit.targets._node import BadRequest, check_envelope
from chaoskit.targets.raft._core import MESSAGE_TYPES, Entry, Message

MAX_INT = 2**62
MAX_ENTRIES = 4096
MAX_KEY = 512

_FIELDS: dict[str, tuple[str, ...]] = {
    "vote": ("last_index", "last_term"),
    "vote_resp": ("granted",),
    "append": ("prev_index", "prev_term", "entries", "commit", "round"),
    "append_resp": ("success", "index", "hint", "round"),
    "prevote": ("last_index", "last_term"),
    "prevote_resp": ("granted",),
}


def encode(msg: Message) -> dict[str, Any]:
    """The JSON body of ``POST /peer`` for ``msg``."""
    body: dict[str, Any] = {"from": msg.src, "to": msg.dst, "type": msg.type, "term": msg.term}
    for name in _FIELDS[msg.type]:
        value = getattr(msg, name)
        if name == "entries":
            value = [{"term": e.term, "op": e.op} for e in value]
        body[name] = value
    return body


def decode(body: Any, me: str, peers: Collection[str]) -> Message:
    """Validate a ``POST /peer`` body addressed to ``me`` from one of ``peers``."""
    kind = check_envelope(body, me, peers, MESSAGE_TYPES)
    fields: dict[str, Any] = {}
    for name in _FIELDS[kind]:
        if name in ("granted", "success"):
            fields[name] = _bool(body, name)
        elif name == "entries":
            fields[name] = _entries(body.get(name))
        else:
            fields[name] = _int(body, name)
    return Message(kind, body["from"], me, _int(body, "term"), **fields)


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if type(value) is not int or not 0 <= value < MAX_INT:
        raise BadRequest(f"{name} must be a non-negative integer")
    return value


def _bool(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if type(value) is not bool:
        raise BadRequest(f"{name} must be a boolean")
    return value


def _entries(value: Any) -> tuple[Entry, ...]:
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        raise BadRequest("entries must be a list")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise BadRequest("an entry must be an object")
        out.append(Entry(_int(item, "term"), command(item.get("op"))))
    return tuple(out)


def key(text: str) -> str:
    """A client key from the URL path."""
    if not text or len(text) > MAX_KEY:
        raise BadRequest(f"a key has 1 to {MAX_KEY} characters")
    return text


def command(op: Any) -> dict[str, Any]:
    """A state-machine command as it appears in a log entry."""
    if not isinstance(op, dict):
        raise BadRequest("op must be an object")
    f = op.get("f")
    needs = {"noop": (), "put": ("value",), "cas": ("from", "to"), "add": ("element",)}
    if f not in needs:
        raise BadRequest(f"unknown op {str(f)[:40]!r}")
    out: dict[str, Any] = {"f": f}
    if f != "noop":
        k = op.get("key")
        if not isinstance(k, str):
            raise BadRequest("op key must be a string")
        out["key"] = key(k)
    for name in needs[f]:
        if name not in op:
            raise BadRequest(f"op {f} needs {name}")
        out[name] = op[name]
    return out


def field(body: Any, *names: str) -> list[Any]:
    """The named fields of a client body, which must be an object holding all of them."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    missing = [n for n in names if n not in body]
    if missing:
        raise BadRequest(f"body needs {', '.join(missing)}")
    return [body[n] for n in names]
