"""Checking what a client sent to the Toxiproxy API, before anything changes.

Every function here is pure: it takes the decoded JSON body and returns typed values
or raises ``ProxyError`` with Toxiproxy's status code and wording ("bad request
body: ...", "missing required field: name", "invalid toxic type", ...). The
registry only acts on values that came through here, which is how bad input
"changes nothing".
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from typing import Any

from chaoskit.errors import ProxyError
from chaoskit.proxy._toxics import ATTRIBUTES, INT64_MAX, STREAMS, ToxicSpec, validate_attributes

DEFAULT_LISTEN = "127.0.0.1:0"


@dataclass(frozen=True)
class ProxyFields:
    """What a create, update or populate entry asks for one proxy."""

    name: str
    listen: str
    upstream: str
    enabled: bool


def bad_body(reason: str) -> ProxyError:
    """Toxiproxy's 400 for a body it cannot use."""
    return ProxyError(f"bad request body: {reason}", status=400)


def missing(field_name: str) -> ProxyError:
    """Toxiproxy's 400 for an absent or empty required field."""
    return ProxyError(f"missing required field: {field_name}", status=400)


def split_hostport(value: str, *, what: str, allow_port_zero: bool) -> tuple[str, int]:
    """``"host:port"`` (IPv6 in brackets) as a pair; an empty host means loopback."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit() or len(port_text) > 5:
        raise bad_body(f"{what} '{value}' is not host:port")
    port = int(port_text)
    if port > 65535 or (port == 0 and not allow_port_zero):
        raise bad_body(f"{what} '{value}' has an invalid port")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise bad_body(f"{what} '{value}' has an invalid IPv6 address") from None
    if not host:
        host = "127.0.0.1"
    if any(ch.isspace() for ch in host) or "/" in host or "[" in host:
        raise bad_body(f"{what} '{value}' has an invalid host")
    return host, port


def join_hostport(host: str, port: int) -> str:
    """The inverse of ``split_hostport``."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise bad_body(f"expected a JSON object, got {type(body).__name__}")
    return body


def _string(body: dict[str, Any], key: str, default: str) -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_body(f"field '{key}' must be a string")
    return value


def _bool(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_body(f"field '{key}' must be true or false")
    return value


def _proxy_fields(body: Any, defaults: ProxyFields, where: str = "") -> ProxyFields:
    body = _object(body)
    fields = ProxyFields(
        name=_string(body, "name", defaults.name),
        listen=_string(body, "listen", defaults.listen) or DEFAULT_LISTEN,
        upstream=_string(body, "upstream", defaults.upstream),
        enabled=_bool(body, "enabled", defaults.enabled),
    )
    if not fields.name:
        raise missing("name" + where)
    if not fields.upstream:
        raise missing("upstream" + where)
    split_hostport(fields.listen, what="listen", allow_port_zero=True)
    split_hostport(fields.upstream, what="upstream", allow_port_zero=False)
    return fields


def parse_proxy_create(body: Any) -> ProxyFields:
    """``POST /proxies``: name and upstream required; listen defaults to loopback:0."""
    return _proxy_fields(body, ProxyFields("", DEFAULT_LISTEN, "", True))


def parse_proxy_update(body: Any, current: ProxyFields) -> ProxyFields:
    """``POST /proxies/{name}``: absent fields keep their values; the name cannot change."""
    fields = _proxy_fields(body, current)
    return replace(fields, name=current.name)


def parse_populate(body: Any) -> list[ProxyFields]:
    """``POST /populate``: a list of proxies, all valid and with distinct names."""
    if not isinstance(body, list):
        raise bad_body(f"expected a JSON array of proxies, got {type(body).__name__}")
    result: list[ProxyFields] = []
    names: set[str] = set()
    for index, entry in enumerate(body, start=1):
        defaults = ProxyFields("", DEFAULT_LISTEN, "", True)
        fields = _proxy_fields(entry, defaults, where=f" at proxy {index}")
        if fields.name in names:
            raise bad_body(f"duplicate proxy name '{fields.name}'")
        names.add(fields.name)
        result.append(fields)
    return result


def _toxicity(body: dict[str, Any], default: float) -> float:
    value = body.get("toxicity", default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_body("field 'toxicity' must be a number")
    if not 0.0 <= float(value) <= 1.0:
        raise bad_body(f"field 'toxicity' must be between 0 and 1 (got {value})")
    return float(value)


def _attributes(body: dict[str, Any], toxic_type: str, base: dict[str, int]) -> dict[str, int]:
    raw = body.get("attributes", {})
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_body("field 'attributes' must be an object")
    known = ATTRIBUTES[toxic_type]
    attrs = {**known, **base}
    for key, value in raw.items():
        if key not in known:
            continue  # Toxiproxy ignores attributes a toxic does not have
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad_body(f"attribute '{key}' must be an integer")
        if abs(value) > INT64_MAX:
            raise bad_body(f"attribute '{key}' is out of range")
        attrs[key] = value
    problem = validate_attributes(toxic_type, attrs)
    if problem:
        raise bad_body(problem)
    return attrs


def parse_toxic_create(body: Any) -> ToxicSpec:
    """``POST /proxies/{p}/toxics``: type required; name defaults to ``<type>_<stream>``."""
    body = _object(body)
    toxic_type = _string(body, "type", "")
    stream = _string(body, "stream", "downstream") or "downstream"
    if stream not in STREAMS:
        raise ProxyError("stream was invalid, can be either upstream or downstream", status=400)
    if toxic_type not in ATTRIBUTES:
        raise ProxyError("invalid toxic type", status=400)
    name = _string(body, "name", "") or f"{toxic_type}_{stream}"
    return ToxicSpec(
        name=name,
        type=toxic_type,
        stream="upstream" if stream == "upstream" else "downstream",
        toxicity=_toxicity(body, 1.0),
        attributes=_attributes(body, toxic_type, {}),
    )


def parse_toxic_update(body: Any, current: ToxicSpec) -> ToxicSpec:
    """``POST /proxies/{p}/toxics/{t}``: new attributes merge over the old; type stays."""
    body = _object(body)
    return replace(
        current,
        toxicity=_toxicity(body, current.toxicity),
        attributes=_attributes(body, current.type, current.attributes),
        revision=current.revision + 1,
    )
