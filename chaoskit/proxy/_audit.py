"""The audit trail of the fault API: every mutating request, whoever sent it.

A run's verdict is only as good as its fault log: a link disabled by someone else is
a fault the checkers never hear of. So the server reports every mutating request
(POST, PATCH, PUT, DELETE), accepted or refused, as an ``ApiChange``:

- in-process, to the ``on_change`` hook of ``ProxyServer`` (the embedded run proxy);
- to anyone holding the token, from ``GET /chaoskit/changes?after=N`` (a proxy in a
  container, whose hook cannot reach the controller): the last ``CHANGE_LOG_SIZE``
  changes, numbered, with how many older ones were dropped.

``AuditTrail`` turns them into records of the run's nemesis stream, leaving out the
controller's own requests (they are already there, as fault starts and stops). The
record shape (``nemesis.jsonl``; checkers ignore types they do not know)::

    {"type": "api", "time": <ns of the run>, "seq": 3, "method": "POST",
     "path": "/proxies/ck-r1-n1-n2-peer", "status": 200, "body": {"enabled": false},
     "authenticated": true, "client": "5f0c...", "peer": "127.0.0.1:51234",
     "host": "127.0.0.1:40111", "origin": null, "user_agent": "curl/7.88.1"}

``api-dropped`` (``count``): changes a pulled log had already dropped.
``authenticated``: true/false whether the run's token came with it, null when the
server has none (standalone). ``client``: the ``X-Chaoskit-Client`` header a
``ProxyClient`` sends (anyone can claim one: it tells the controller's requests apart
only together with a valid token). ``status`` >= 400: refused, nothing changed. Refused
requests are recorded up to ``REFUSED_LIMIT`` per run (someone hammering the API must
not fill the disk); the rest are counted in a final ``{"type": "api-refused-dropped",
"count": N}``.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
CHANGE_LOG_SIZE = 10_000
BODY_SUMMARY_CHARS = 2_000
REFUSED_LIMIT = 100


@dataclass(frozen=True)
class ApiChange:
    """One mutating request to the fault API and what the server answered."""

    seq: int
    method: str
    path: str
    status: int
    body: Any
    authenticated: bool | None
    client: str | None
    peer: str | None
    host: str | None
    origin: str | None
    user_agent: str | None
    #: ``time.monotonic_ns()`` of the server when the request came: the same clock as
    #: the controller's on one kernel (containers included), so a change pulled later
    #: still gets its own time on the run's timeline.
    monotonic_ns: int = 0

    @property
    def refused(self) -> bool:
        return self.status >= 400

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiChange:
        """An entry of ``GET /chaoskit/changes`` (absent fields: unknown)."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        authenticated = data.get("authenticated")
        return cls(
            seq=int(data.get("seq") or 0),
            method=str(data.get("method", "")),
            path=str(data.get("path", "")),
            status=int(data.get("status") or 0),
            body=data.get("body"),
            authenticated=None if authenticated is None else bool(authenticated),
            client=text("client"),
            peer=text("peer"),
            host=text("host"),
            origin=text("origin"),
            user_agent=text("user_agent"),
            monotonic_ns=int(data.get("monotonic_ns") or 0),
        )


def summarize_body(raw: bytes) -> Any:
    """What a record keeps of a request body: the JSON itself when short, else an
    excerpt of the text (an audit must stay readable and small, not complete)."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        decoded = json.loads(text)
    except (ValueError, RecursionError):
        decoded = None
    if decoded is not None and len(text) <= BODY_SUMMARY_CHARS:
        return decoded
    if len(text) > BODY_SUMMARY_CHARS:
        return f"{text[:BODY_SUMMARY_CHARS]}... ({len(raw)} bytes)"
    return text


def api_record(change: ApiChange, time_ns: int) -> dict[str, Any]:
    """The nemesis-stream record of one change (shape in the module docstring)."""
    record = {"type": "api", "time": time_ns, **change.to_json()}
    del record["monotonic_ns"]  # the run's own ``time`` says when
    return record


class ChangeLog:
    """The last ``size`` changes, numbered from 1, for ``GET /chaoskit/changes``."""

    def __init__(self, size: int = CHANGE_LOG_SIZE) -> None:
        self.entries: deque[ApiChange] = deque(maxlen=size)
        self.last_seq = 0

    def next_seq(self) -> int:
        self.last_seq += 1
        return self.last_seq

    def add(self, change: ApiChange) -> None:
        self.entries.append(change)

    def since(self, after: int) -> dict[str, Any]:
        """Changes numbered above ``after``; ``dropped``: how many of those are gone."""
        changes = [c.to_json() for c in self.entries if c.seq > after]
        oldest = self.entries[0].seq if self.entries else self.last_seq + 1
        dropped = max(0, oldest - after - 1) if self.last_seq > after else 0
        return {"changes": changes, "last": self.last_seq, "dropped": dropped}


class ChangeSource(Protocol):
    """Where changes are pulled from (a ``ProxyClient`` of a proxy container)."""

    async def changes(self, after: int = 0) -> tuple[list[ApiChange], int, int]: ...


class AuditTrail:
    """The controller's ``on_change``: foreign changes into the nemesis stream.

    ``own_client`` is the controller's ``ProxyClient.client_id``: its authenticated
    requests are left out. Everything else is written, refused requests up to
    ``refused_limit``.
    """

    def __init__(
        self,
        write: Callable[[dict[str, Any]], None],
        now: Callable[[], int],
        own_client: str | None,
        refused_limit: int = REFUSED_LIMIT,
    ) -> None:
        self.write = write
        self.now = now
        self.own_client = own_client
        self.refused_limit = refused_limit
        self.refused_written = 0
        self.refused_dropped = 0
        self.foreign = 0
        self.pulled = 0

    def is_own(self, change: ApiChange) -> bool:
        return (
            self.own_client is not None
            and change.client == self.own_client
            and change.authenticated is not False
        )

    def time_of(self, change: ApiChange) -> int:
        """The change's time on the run's timeline: now, minus how long ago it came."""
        if not change.monotonic_ns:
            return self.now()
        return max(0, self.now() - max(0, time.monotonic_ns() - change.monotonic_ns))

    def __call__(self, change: ApiChange) -> None:
        if self.is_own(change):
            return
        if change.refused:
            if self.refused_written >= self.refused_limit:
                self.refused_dropped += 1
                return
            self.refused_written += 1
        else:
            self.foreign += 1
        self.write(api_record(change, self.time_of(change)))

    async def pull(self, client: ChangeSource) -> None:
        """Record what a proxy elsewhere (a container) reports since the last pull;
        a gap (changes dropped before they were read) is recorded as such."""
        changes, last, dropped = await client.changes(self.pulled)
        if dropped:
            self.write({"type": "api-dropped", "time": self.now(), "count": dropped})
        for change in changes:
            self(change)
        self.pulled = last

    def close(self) -> None:
        """Write the count of refused requests that were not recorded one by one."""
        if self.refused_dropped:
            self.write(
                {"type": "api-refused-dropped", "time": self.now(), "count": self.refused_dropped}
            )
            self.refused_dropped = 0
