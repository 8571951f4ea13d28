"""Drift: how the proxies' state differs from what this client set.

An external Toxiproxy (``chaoskit run --toxiproxy-url``) has no token and no audit
hook: anyone who can reach it can change a run's links. What the controller can do
is compare. ``Ledger`` remembers the state of every proxy as this client's own
requests left it (from the server's answers); ``compare`` lists every difference
from the state read back (``GET /proxies``): a proxy deleted, added under the run's
prefix, enabled or disabled, moved, or with toxics added, removed or changed.

A comparison sees a state, not a history: a change undone before the next comparison
goes unseen. So the controller compares after every heal (when the state it expects is
simplest: all enabled, no toxics) and before teardown. The record shape
(``nemesis.jsonl``)::

    {"type": "drift", "time": <ns>, "proxy": "ck-r1-n1-n2-peer",
     "field": "enabled" | "listen" | "upstream" | "toxic:<name>" | "proxy",
     "expected": true, "actual": false}

``expected``/``actual`` of a toxic are its JSON (or null when absent); of ``proxy``,
``"present"``/``"absent"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaoskit.proxy._info import ProxyInfo, ToxicInfo


@dataclass(frozen=True)
class Drift:
    """One difference between expected and actual state."""

    proxy: str
    field: str
    expected: Any
    actual: Any

    def record(self, time_ns: int) -> dict[str, Any]:
        return {
            "type": "drift",
            "time": time_ns,
            "proxy": self.proxy,
            "field": self.field,
            "expected": self.expected,
            "actual": self.actual,
        }


@dataclass
class Expected:
    """One proxy as this client left it."""

    listen: str
    upstream: str
    enabled: bool
    toxics: dict[str, ToxicInfo] = field(default_factory=dict)


class Ledger:
    """The state this client's own requests produced, proxy by proxy.

    Toxics are tracked by the toxic calls only: a proxy's answer to an update may
    predate a toxic added concurrently, so it never overwrites them.
    """

    def __init__(self) -> None:
        self.proxies: dict[str, Expected] = {}

    def proxy(self, info: ProxyInfo, *, with_toxics: bool = False) -> None:
        """Record a proxy's answer (``with_toxics``: the answer is a fresh proxy, so
        its toxics are the truth: create, populate)."""
        old = self.proxies.get(info.name)
        toxics = {t.name: t for t in info.toxics} if with_toxics or old is None else old.toxics
        self.proxies[info.name] = Expected(info.listen, info.upstream, info.enabled, toxics)

    def forget(self, name: str) -> None:
        self.proxies.pop(name, None)

    def toxic(self, proxy: str, info: ToxicInfo) -> None:
        if proxy in self.proxies:
            self.proxies[proxy].toxics[info.name] = info

    def drop_toxic(self, proxy: str, name: str) -> None:
        if proxy in self.proxies:
            self.proxies[proxy].toxics.pop(name, None)

    def reset(self) -> None:
        """``POST /reset``: every proxy enabled, no toxics."""
        for expected in self.proxies.values():
            expected.enabled = True
            expected.toxics.clear()


def _toxic_json(info: ToxicInfo | None) -> dict[str, Any] | None:
    if info is None:
        return None
    return {
        "type": info.type,
        "stream": info.stream,
        "toxicity": info.toxicity,
        "attributes": dict(info.attributes),
    }


def compare(
    expected: Mapping[str, Expected],
    actual: Mapping[str, ProxyInfo],
    prefix: str | None = None,
) -> list[Drift]:
    """Every difference, proxy by proxy; proxies in ``actual`` that this client never
    set are drift only when their name starts with ``prefix`` (the run's own names)."""
    drifts: list[Drift] = []
    for name, want in sorted(expected.items()):
        got = actual.get(name)
        if got is None:
            drifts.append(Drift(name, "proxy", "present", "absent"))
            continue
        for key in ("enabled", "listen", "upstream"):
            if getattr(want, key) != getattr(got, key):
                drifts.append(Drift(name, key, getattr(want, key), getattr(got, key)))
        have = {t.name: t for t in got.toxics}
        for toxic in sorted(set(want.toxics) | set(have)):
            before, after = _toxic_json(want.toxics.get(toxic)), _toxic_json(have.get(toxic))
            if before != after:
                drifts.append(Drift(name, f"toxic:{toxic}", before, after))
    if prefix is not None:
        for name in sorted(set(actual) - set(expected)):
            if name.startswith(prefix):
                drifts.append(Drift(name, "proxy", "absent", "present"))
    return drifts
