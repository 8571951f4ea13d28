"""Helpers the targets share: option parsing (every target) and the election recipes.

Options are positive numbers or on/off switches; the two election recipes also
report a candidate's belief through the same tiny ``GET /status`` JSON and serve no
client operations (``ElectionRecipe``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from chaoskit.core.target import NodeInfo, Outcome, Status, TargetBase
from chaoskit.errors import ConfigError


def positive_int(key: str, text: str) -> int:
    """The value of option ``key``: a whole number above zero, else a ``ConfigError``."""
    return int(positive(key, text, int))


def positive(key: str, text: str, kind: type[int] | type[float]) -> int | float:
    """The value of option ``key`` as ``kind``, above zero, else a ``ConfigError``."""
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"option {key} must be {what}, got {text!r}") from None
    if value <= 0:
        raise ConfigError(f"option {key} must be positive, got {text!r}")
    return value


_SWITCH = {"true": True, "on": True, "yes": True, "1": True}
_SWITCH.update({"false": False, "off": False, "no": False, "0": False})


def switch(key: str, text: str) -> bool:
    """The value of on/off option ``key`` (``-o pre-vote=true``): true/false, on/off,
    yes/no, 1/0 in any case, else a ``ConfigError``."""
    try:
        return _SWITCH[text.strip().lower()]
    except KeyError:
        raise ConfigError(f"option {key} must be true or false, got {text!r}") from None


class ElectionRecipe(TargetBase):
    """What the election-recipe targets (etcd-election, zk-election) share: a status
    that is the candidate's belief, and no client operations."""

    async def status(self, http: httpx.AsyncClient, node: NodeInfo, timeout: float) -> Status:
        """``GET /status`` of a candidate: what it believes, not what the coordination
        service knows (``{"role": "leader"|..., "term": N}``)."""
        resp = await http.get(f"{node.url}/status", timeout=timeout)
        resp.raise_for_status()
        body = resp.json()
        term = body.get("term")
        if body.get("role") == "leader":
            return Status("leader", int(term) if term is not None else None, node.id)
        return Status("follower", None, None)

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        raise ConfigError(f"{self.name} serves no client operations (workload: none)")
