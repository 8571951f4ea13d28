"""How a spec target asks a node who leads, and how it runs a client operation:
HTTP requests with a JSON field mapping, commands whose output is parsed, or a
Python callable.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaoskit.core.target import Status
from chaoskit.spec.fields import SpecError


def dotted(data: Any, path: str) -> Any:
    """``dotted({"a": {"b": 1}}, "a.b") == 1``; None when absent."""
    for part in path.split("."):
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdecimal() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


@dataclass
class StatusSpec:
    """How to ask a node who leads, and how to read the answer."""

    http: tuple[str, str] | None = None
    command: list[str] | None = None
    python: Callable[..., Any] | None = None
    role: str | None = None
    is_leader: str | None = None
    leader: str | None = None
    term: str | None = None
    leader_values: list[str] = field(default_factory=lambda: ["leader"])
    candidate_values: list[str] = field(default_factory=lambda: ["candidate"])

    def interpret(self, data: Mapping[str, Any]) -> Status:
        role = "follower"
        if self.is_leader is not None:
            role = "leader" if dotted(data, self.is_leader) in (True, "true", 1) else "follower"
        elif self.role is not None:
            raw = str(dotted(data, self.role))
            if raw in self.leader_values:
                role = "leader"
            elif raw in self.candidate_values:
                role = "candidate"
        leader = dotted(data, self.leader) if self.leader else None
        term = dotted(data, self.term) if self.term else None
        return Status(
            role=role,  # type: ignore[arg-type]
            term=int(term) if term is not None else None,
            leader=str(leader) if leader not in (None, "") else None,
        )


@dataclass
class OpSpec:
    """One client operation over HTTP."""

    method: str
    path: str
    body: str | None
    value: str | None
    fail_status: list[int]
    leader_field: str | None


def parse_http(text: str, where: str) -> tuple[str, str]:
    method, _, path = text.strip().partition(" ")
    if method.upper() not in {"GET", "POST", "PUT", "DELETE", "PATCH"} or not path.startswith("/"):
        raise SpecError(f"{where}: 'http' must look like \"GET /path\", not {text!r}")
    return method.upper(), path


def load_python(ref: str, where: str) -> Callable[..., Any]:
    module, _, attr = ref.partition(":")
    if not module or not attr:
        raise SpecError(f"{where}: 'python' must be \"module:callable\", not {ref!r}")
    try:
        fn = getattr(importlib.import_module(module), attr)
    except Exception as exc:  # noqa: BLE001 - whatever the user's module raises on import
        raise SpecError(
            f"{where}: cannot load python callable '{ref}': {type(exc).__name__}: {exc}"
        ) from None
    if not callable(fn):
        raise SpecError(f"{where}: '{ref}' is not callable")
    return fn  # type: ignore[no-any-return]


def parse_status_output(text: str) -> dict[str, Any]:
    """JSON, or ``key: value`` / ``key=value`` lines (as ZooKeeper's ``srvr`` prints)."""
    text = text.strip()
    if text.startswith("{"):
        data = json.loads(text)
        if isinstance(data, dict):
            return data
    out: dict[str, Any] = {}
    for line in text.splitlines():
        for sep in (":", "="):
            key, found, value = line.partition(sep)
            if found:
                out[key.strip()] = value.strip()
                break
    return out
