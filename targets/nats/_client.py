"""Register and set operations on NATS JetStream through nats-py: a client plug-in.

One ``NatsClient`` per logical client process (chaoskit.clients.plugin), connected to
its node's client port only (no reconnect, no other server: an op really goes to the
node the client runner chose; servers forward JetStream API requests to the leaders).

- ``register``: a KV bucket; ``read`` is a get (through the stream leader unless
  ``reads=direct``, which lets any replica answer), ``write`` a put, ``cas [from, to]``
  a get then an update conditioned on the revision read: it fails (certainly not
  applied) when the value is not ``from`` or the revision moved on.
- ``set``: a stream; ``add`` is a publish whose acknowledgement means stored,
  ``read-set`` reads the whole stream through an ordered consumer.

Outcomes: a read that failed had no effect (``fail``); a write refused before it was
proposed (no responders, wrong last sequence) is ``fail``; a write whose answer was
lost (time-out, connection lost, a server error) may have happened: ``info``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from chaoskit.core.client import OpFailed
from chaoskit.core.target import NodeInfo
from chaoskit.errors import SetupError

ReadMode = Literal["leader", "direct"]
READ_MODES: tuple[ReadMode, ...] = ("leader", "direct")
BUCKET = "chaoskit"
STREAM = "chaoskit-set"
SUBJECT = "chaoskit.set"
CONNECT_TIMEOUT_S = 2.0
#: JetStream API requests wait this long for an answer (below the op time-out).
REQUEST_TIMEOUT_S = 2.0


def _nats() -> Any:
    try:
        import nats
        import nats.errors
        import nats.js.api
        import nats.js.errors
    except ImportError as exc:
        raise SetupError("the nats target needs nats-py: pip install nats-py") from exc
    return nats


@dataclass(frozen=True)
class Assets:
    """The test bucket and stream: their replica count and how reads are served."""

    replicas: int = 3
    reads: ReadMode = "leader"

    async def ensure(self, js: Any) -> None:
        """Create the bucket and stream (idempotent: same config, same answer)."""
        nats = _nats()
        await js.create_key_value(
            nats.js.api.KeyValueConfig(
                bucket=BUCKET, history=1, replicas=self.replicas, direct=self.reads == "direct"
            )
        )
        await js.add_stream(name=STREAM, subjects=[SUBJECT], num_replicas=self.replicas)


async def _quiet(*_: Any) -> None:
    """nats-py reports every dropped connection through its error callback; faults
    make many, and each op's outcome already says what happened."""


class NatsClient:
    """A connection to one server, with the bucket and stream bound on first use."""

    def __init__(self, assets: Assets | None = None) -> None:
        self.assets = assets or Assets()
        self._nc: Any = None
        self._js: Any = None
        self._kv: Any = None

    async def open(self, node: NodeInfo) -> None:
        nats = _nats()
        self._nc = await nats.connect(
            f"nats://{node.host}:{node.port}",
            allow_reconnect=False,
            connect_timeout=CONNECT_TIMEOUT_S,
            max_reconnect_attempts=0,
            error_cb=_quiet,
        )
        self._js = self._nc.jetstream(timeout=REQUEST_TIMEOUT_S)

    async def invoke(self, op: Mapping[str, Any]) -> Any:
        nats = _nats()
        f = op["f"]
        try:
            if f in ("read", "write", "cas"):
                return await self._register(op)
            if f == "add":
                await self._js.publish(SUBJECT, _encode(op["value"]), stream=STREAM)
                return None
            if f == "read-set":
                return await self._read_set()
        except OpFailed:
            raise
        except nats.js.errors.KeyWrongLastSequenceError as exc:
            raise OpFailed(f"cas: revision moved on ({exc.description})") from exc
        except (nats.errors.NoRespondersError, nats.errors.ConnectionClosedError) as exc:
            raise OpFailed(f"not sent: {type(exc).__name__}") from exc
        except Exception as exc:
            if f in ("read", "read-set"):  # a read that failed changed nothing
                raise OpFailed(f"{type(exc).__name__}: {exc}") from exc
            raise
        raise OpFailed(f"nats has no operation {f!r} (read, write, cas, add, read-set)")

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            await nc.close()

    async def _bucket(self) -> Any:
        if self._kv is None:
            nats = _nats()
            try:
                self._kv = await self._js.key_value(BUCKET)
            except nats.js.errors.BucketNotFoundError:
                await self.assets.ensure(self._js)
                self._kv = await self._js.key_value(BUCKET)
        return self._kv

    async def _register(self, op: Mapping[str, Any]) -> Any:
        kv = await self._bucket()
        key, f = op["key"], op["f"]
        if f == "write":
            await kv.put(key, _encode(op["value"]))
            return None
        try:
            current, revision = await self._get(kv, key)
        except Exception as exc:
            raise OpFailed(f"read: {type(exc).__name__}: {exc}") from exc  # nothing written
        if f == "read":
            return current
        expected, new = op["value"]
        if current != expected:
            raise OpFailed(f"cas: value is {current!r}, not {expected!r}")
        if revision is None:
            await kv.create(key, _encode(new))
        else:
            await kv.update(key, _encode(new), last=revision)
        return None

    @staticmethod
    async def _get(kv: Any, key: str) -> tuple[Any, int | None]:
        """The value and revision of ``key``: (None, None) when it was never written."""
        nats = _nats()
        try:
            entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None, None
        return json.loads(entry.value) if entry.value else None, entry.revision

    async def _read_set(self) -> list[Any]:
        """Every value in the stream, read in order through an ordered consumer."""
        nats = _nats()
        try:
            info = await self._js.stream_info(STREAM)
        except nats.js.errors.NotFoundError:
            return []
        last = info.state.last_seq
        values: list[Any] = []
        if info.state.messages == 0:
            return values
        sub = await self._js.subscribe(SUBJECT, stream=STREAM, ordered_consumer=True)
        try:
            while True:
                msg = await sub.next_msg(timeout=REQUEST_TIMEOUT_S)
                values.append(json.loads(msg.data))
                if msg.metadata.sequence.stream >= last:
                    return values
        finally:
            await sub.unsubscribe()


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


async def ensure_assets(host: str, port: int, assets: Assets, timeout: float) -> None:
    """Create the bucket and stream through one server (the target does it once the
    cluster is up, so their leaders can be observed from the start)."""
    nats = _nats()
    nc = await nats.connect(
        f"nats://{host}:{port}",
        allow_reconnect=False,
        connect_timeout=timeout,
        max_reconnect_attempts=0,
        error_cb=_quiet,
    )
    try:
        await asyncio.wait_for(assets.ensure(nc.jetstream(timeout=timeout)), timeout)
    finally:
        await nc.close()
