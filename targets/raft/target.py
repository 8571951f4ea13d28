"""``RaftTarget``: how chaoskit launches, observes and uses the reference Raft cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from chaoskit.core.target import NodeInfo, Outcome
from chaoskit.errors import ConfigError
from chaoskit.targets._node._target import NodeTarget
from chaoskit.targets.raft._core import BUGS

#: op["f"] -> (HTTP method, path template, body builder, where the value is in a 200)
_READS = {"read": "value", "get": "value", "read-set": "elements"}


class RaftTarget(NodeTarget):
    """The reference Raft nodes (``python -m chaoskit.targets.raft``)."""

    name = "raft"
    description = "reference Raft key-value cluster (read index, fsynced log), planted bugs"
    default_policy: ClassVar[Any] = "per-term"
    workloads = ("none", "register", "kv", "set")
    election_deadline = 3.0
    #: 250-500 ms election timeouts: spurious elections stay rare on a loaded 2-core box.
    default_election_ticks: ClassVar[int] = 25
    module = "chaoskit.targets.raft"
    bugs = BUGS
    flags: ClassVar[tuple[str, ...]] = ("pre-vote",)

    @property
    def election_timeout(self) -> float:
        """The longest randomized election timeout, in seconds."""
        return 2 * self.election_ticks * self.tick_s

    async def invoke(
        self, http: httpx.AsyncClient, node: NodeInfo, op: Mapping[str, Any], timeout: float
    ) -> Outcome:
        """Run ``op`` on ``node``: 200 ok, 409/421/4xx fail, 504 or lost answer info."""
        method, path, body = _request(op)
        try:
            resp = await http.request(method, node.url + path, json=body, timeout=timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            return Outcome("fail", error=f"not sent: {type(exc).__name__}")
        except httpx.TransportError as exc:
            return Outcome("info", error=f"no answer: {type(exc).__name__}")
        return _outcome(op, resp)


def _request(op: Mapping[str, Any]) -> tuple[str, str, Any]:
    f, key = op.get("f"), op.get("key")
    if not isinstance(key, str):
        raise ConfigError(f"raft op {f!r} needs a string key, got {key!r}")
    k = quote(key, safe="")
    if f in ("read", "get"):
        return "GET", f"/kv/{k}", None
    if f in ("write", "put"):
        return "PUT", f"/kv/{k}", {"value": op.get("value")}
    if f == "cas":
        value = op.get("value")
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ConfigError(f"raft cas needs value [from, to], got {value!r}")
        return "POST", f"/kv/{k}/cas", {"from": value[0], "to": value[1]}
    if f == "add":
        return "POST", f"/set/{k}/add", {"element": op.get("value", op.get("element"))}
    if f == "read-set":
        return "GET", f"/set/{k}", None
    raise ConfigError(f"raft has no operation {f!r}")


def _outcome(op: Mapping[str, Any], resp: httpx.Response) -> Outcome:
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    error = body.get("error")
    if resp.status_code == 200:
        where = _READS.get(str(op.get("f")))
        return Outcome("ok", value=body.get(where) if where else None)
    if resp.status_code == 409:
        return Outcome("fail", value=body.get("value"), error=error or "cas mismatch")
    if resp.status_code == 421:
        leader = body.get("leader")
        return Outcome(
            "fail", redirect=leader if isinstance(leader, str) else None, error="not leader"
        )
    if 400 <= resp.status_code < 500 and resp.status_code != 408:
        return Outcome("fail", error=error or f"HTTP {resp.status_code}")
    return Outcome("info", error=error or f"HTTP {resp.status_code}")
