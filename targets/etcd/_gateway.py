"""etcd's JSON gateway (grpc-gateway over the client port): status, KV and errors.

Keys and values travel base64-encoded and 64-bit integers as strings; a field equal
to its zero value is left out (``"succeeded": false`` never appears). chaoskit
stores values as JSON text, so the ints of the ``register`` workload and the words
of ``kv`` come back as they went in.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from chaoskit.core.target import Outcome
from chaoskit.errors import ConfigError

STATUS = "/v3/maintenance/status"
MEMBERS = "/v3/cluster/member/list"
RANGE = "/v3/kv/range"
PUT = "/v3/kv/put"
TXN = "/v3/kv/txn"
#: Errors that mean the request was refused before it could take effect.
DEFINITE = ("too many requests", "request is too large", "invalid argument")
#: gRPC InvalidArgument: a malformed request never takes effect.
INVALID_ARGUMENT = 3


class GatewayError(Exception):
    """A non-200 answer of the gateway: the HTTP status and gRPC's message."""

    def __init__(self, status: int, message: str, code: int | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.code = code

    @property
    def definite(self) -> bool:
        """Whether the request certainly did not take effect."""
        text = self.message.lower()
        return self.code == INVALID_ARGUMENT or any(d in text for d in DEFINITE)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def encode_value(value: Any) -> str:
    return b64(json.dumps(value))


def decode_value(text: str | None) -> Any:
    """A stored value back to Python; an absent or empty value is ``None``."""
    return json.loads(unb64(text)) if text else None


async def call(
    http: httpx.AsyncClient, base: str, path: str, body: Mapping[str, Any], timeout: float
) -> dict[str, Any]:
    """POST ``body`` to ``base + path``; the JSON answer, or ``GatewayError``."""
    resp = await http.post(base + path, json=dict(body), timeout=timeout)
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    if resp.status_code != 200:
        message = str(data.get("message") or data.get("error") or resp.reason_phrase)
        code = data.get("code")
        raise GatewayError(resp.status_code, message, code if isinstance(code, int) else None)
    return data


@dataclass(frozen=True)
class MemberStatus:
    """One member's answer to ``/v3/maintenance/status``."""

    member_id: str
    leader: str | None
    term: int | None


def parse_status(body: Mapping[str, Any]) -> MemberStatus:
    """``header.member_id``, ``leader`` (absent while unknown) and ``raftTerm``."""
    header = body.get("header")
    member = header.get("member_id") if isinstance(header, dict) else None
    if not isinstance(member, str) or not member.isdigit():
        raise ValueError(f"status without a member id: {body!r}")
    leader = body.get("leader")
    if leader is not None and (not isinstance(leader, str) or not leader.isdigit()):
        raise ValueError(f"status with a malformed leader: {leader!r}")
    term = body.get("raftTerm")
    if term is not None and (not isinstance(term, str) or not term.isdigit()):
        raise ValueError(f"status with a malformed raft term: {term!r}")
    return MemberStatus(
        member, leader if leader not in (None, "0") else None, int(term) if term else None
    )


def member_names(body: Mapping[str, Any]) -> dict[str, str]:
    """Member id -> name, from ``/v3/cluster/member/list``."""
    members = body.get("members")
    if not isinstance(members, list):
        return {}
    return {
        str(m["ID"]): str(m["name"])
        for m in members
        if isinstance(m, dict) and "ID" in m and m.get("name")
    }


def kv_request(op: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The gateway path and body of a workload op (read/get, write/put, cas)."""
    f, key = op.get("f"), op.get("key")
    if not isinstance(key, str):
        raise ConfigError(f"etcd op {f!r} needs a string key, got {key!r}")
    k = b64(key)
    if f in ("read", "get"):
        return RANGE, {"key": k}
    if f in ("write", "put"):
        return PUT, {"key": k, "value": encode_value(op.get("value"))}
    if f == "cas":
        value = op.get("value")
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ConfigError(f"etcd cas needs value [from, to], got {value!r}")
        compare = {"key": k, "target": "VALUE", "result": "EQUAL", "value": encode_value(value[0])}
        put = {"requestPut": {"key": k, "value": encode_value(value[1])}}
        return TXN, {"compare": [compare], "success": [put]}
    raise ConfigError(f"etcd has no operation {f!r}")


def kv_outcome(op: Mapping[str, Any], body: Mapping[str, Any]) -> Outcome:
    """A 200 answer: reads return the value, a cas whose compare failed is ``fail``."""
    f = op.get("f")
    if f in ("read", "get"):
        kvs = body.get("kvs")
        first = kvs[0] if isinstance(kvs, list) and kvs else {}
        return Outcome("ok", value=decode_value(first.get("value")))
    if f == "cas" and not body.get("succeeded"):
        return Outcome("fail", error="cas mismatch")
    return Outcome("ok")


def is_read(op: Mapping[str, Any]) -> bool:
    return op.get("f") in ("read", "get")
