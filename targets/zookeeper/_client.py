"""Register and kv operations on ZooKeeper through kazoo, as chaoskit ``Outcome``s.

One kazoo session per server, connected to that server only, so an op really goes
to the node the client runner chose. Keys are znodes under ``/chaoskit``; values are
JSON. kazoo's asynchronous calls are bridged to asyncio futures (no thread per op).

Reads: ZooKeeper writes are linearizable, its plain reads only sequentially
consistent (a follower, or a deposed leader, may serve an old value). The default
``reads=quorum`` makes a read linearizable by confirming it with a write: a
conditional ``set`` of the same bytes at the version read (or a ``create`` of
``null`` for a missing key), which ZAB orders like any write. ``reads=sync`` does
``sync`` then ``get`` (ZooKeeper's own advice, not linearizable in every case);
``reads=local`` a bare ``get``, to show what the checker finds with stale reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal

from chaoskit.core.target import NodeInfo, Outcome
from chaoskit.errors import ConfigError, SetupError

ReadMode = Literal["quorum", "sync", "local"]
READ_MODES: tuple[ReadMode, ...] = ("quorum", "sync", "local")
ROOT = "/chaoskit"
#: The value a read returns for a key never written (the register model's initial value).
ABSENT: Any = None

_LOG = logging.getLogger("chaoskit.targets.zookeeper.kazoo")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False  # kazoo reports every dropped connection; faults make many


def _kazoo() -> Any:
    try:
        import kazoo.client
        import kazoo.exceptions
        import kazoo.retry
    except ImportError as exc:
        raise SetupError("the zookeeper target needs kazoo: pip install kazoo") from exc
    return kazoo


class Definite(Exception):
    """The op certainly did not take effect (a ``fail``), with the reason."""


class ZkClients:
    """A kazoo session per node, opened on first use and closed by ``close``."""

    def __init__(self, *, session_timeout: float, read_mode: ReadMode) -> None:
        self.session_timeout = session_timeout
        self.read_mode = read_mode
        self._clients: dict[str, Any] = {}

    def client(self, node: NodeInfo) -> Any:
        """The node's session, started in the background (kazoo reconnects by itself)."""
        zk = self._clients.get(node.id)
        if zk is None:
            kazoo = _kazoo()
            zk = kazoo.client.KazooClient(
                hosts=f"{node.host}:{node.port}",
                timeout=self.session_timeout,
                connection_retry=kazoo.retry.KazooRetry(max_tries=-1, delay=0.1, max_delay=0.5),
                logger=_LOG,
            )
            zk.start_async()
            self._clients[node.id] = zk
        return zk

    async def close(self) -> None:
        """Stop every session (kazoo's stop blocks on its threads, so off the loop)."""
        clients, self._clients = list(self._clients.values()), {}
        for zk in clients:
            await asyncio.to_thread(_stop, zk)

    async def invoke(self, node: NodeInfo, op: Mapping[str, Any], timeout: float) -> Outcome:
        """Run ``op``; ``fail`` only when it certainly did not happen."""
        zk = self.client(node)
        if not zk.connected:
            return Outcome("fail", error="no ZooKeeper session to this server")
        kazoo = _kazoo()
        errors = kazoo.exceptions
        call = _Caller(zk, timeout)
        try:
            return await asyncio.wait_for(self._dispatch(call, op), timeout)
        except Definite as exc:
            return Outcome("fail", error=str(exc))
        except TimeoutError:
            return Outcome("info", error="timeout")
        except (errors.ConnectionClosedError, errors.NoAuthError) as exc:
            return Outcome("fail", error=type(exc).__name__)
        except errors.KazooException as exc:
            # ConnectionLoss, SessionExpired, OperationTimeout...: it may have happened.
            return Outcome("info", error=type(exc).__name__)

    async def _dispatch(self, call: _Caller, op: Mapping[str, Any]) -> Outcome:
        f, key = op.get("f"), op.get("key")
        if not isinstance(key, str) or not key or "/" in key:
            raise ConfigError(f"zookeeper op {f!r} needs a plain string key, got {key!r}")
        path = f"{ROOT}/{key}"
        if f in ("read", "get"):
            return Outcome("ok", value=await self._read(call, path))
        if f in ("write", "put"):
            await _write(call, path, op.get("value"))
            return Outcome("ok")
        if f == "cas":
            value = op.get("value")
            if not isinstance(value, list | tuple) or len(value) != 2:
                raise ConfigError(f"zookeeper cas needs value [from, to], got {value!r}")
            await _cas(call, path, value[0], value[1])
            return Outcome("ok")
        raise ConfigError(f"zookeeper has no operation {f!r} (it has read, write, cas, get, put)")

    async def _read(self, call: _Caller, path: str) -> Any:
        errors = _kazoo().exceptions
        if self.read_mode == "sync":
            await call("sync_async", path)
        try:
            data, stat = await call("get_async", path)
        except errors.NoNodeError:
            if self.read_mode != "quorum":
                return ABSENT
            await _confirm_absent(call, path)
            return ABSENT
        if self.read_mode == "quorum":
            try:
                await call("set_async", path, data, stat.version)
            except errors.BadVersionError:
                raise Definite("read not confirmed: the key changed meanwhile") from None
        return _decode(data)


class _Caller:
    """Calls a kazoo ``*_async`` method and awaits its result on the running loop."""

    def __init__(self, zk: Any, timeout: float) -> None:
        self.zk = zk
        self.timeout = timeout

    async def __call__(self, method: str, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        result = getattr(self.zk, method)(*args)
        result.rawlink(_deliver(loop, future))
        return await future


def _deliver(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> Callable[[Any], None]:
    """A kazoo callback (run on kazoo's thread) that completes ``future`` on ``loop``."""

    def settle(result: Any) -> None:
        if future.done():
            return
        if result.successful():
            future.set_result(result.value)
        else:
            future.set_exception(result.exception)

    def callback(result: Any) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(settle, result)

    return callback


async def _ensure_root(call: _Caller) -> None:
    errors = _kazoo().exceptions
    with contextlib.suppress(errors.NodeExistsError):
        await call("create_async", ROOT, b"")


async def _create(call: _Caller, path: str, data: bytes) -> None:
    """Create ``path``; ``NodeExistsError`` propagates (the caller decides)."""
    errors = _kazoo().exceptions
    try:
        await call("create_async", path, data)
    except errors.NoNodeError:
        await _ensure_root(call)
        await call("create_async", path, data)


async def _confirm_absent(call: _Caller, path: str) -> None:
    """Linearize "never written" by creating the key holding ``null`` (a no-op value)."""
    errors = _kazoo().exceptions
    try:
        await _create(call, path, _encode(ABSENT))
    except errors.NodeExistsError:
        raise Definite("read not confirmed: the key was created meanwhile") from None


async def _write(call: _Caller, path: str, value: Any) -> None:
    """Set the key, creating it if needed; retried only after definite refusals."""
    errors = _kazoo().exceptions
    data = _encode(value)
    for _ in range(3):
        try:
            await call("set_async", path, data, -1)
            return
        except errors.NoNodeError:
            pass
        try:
            await _create(call, path, data)
            return
        except errors.NodeExistsError:
            continue
    raise Definite("write lost a create/delete race three times")


async def _cas(call: _Caller, path: str, expected: Any, new: Any) -> None:
    """Set ``new`` only if the key holds ``expected``, at the version that was read."""
    errors = _kazoo().exceptions
    try:
        data, stat = await call("get_async", path)
    except errors.NoNodeError:
        if expected is not ABSENT:
            raise Definite("cas mismatch: key never written") from None
        try:
            await _create(call, path, _encode(new))
        except errors.NodeExistsError:
            raise Definite("cas mismatch: key created meanwhile") from None
        return
    if _decode(data) != expected:
        raise Definite("cas mismatch")
    try:
        await call("set_async", path, _encode(new), stat.version)
    except errors.BadVersionError:
        raise Definite("cas mismatch: the key changed meanwhile") from None


def _encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def _decode(data: bytes) -> Any:
    if not data:
        return ABSENT
    try:
        return json.loads(data)
    except ValueError:
        return data.decode(errors="replace")


def _stop(zk: Any) -> None:
    try:
        zk.stop()
        zk.close()
    except Exception as exc:  # noqa: BLE001 - teardown goes on for the other sessions
        _LOG.debug("stopping a kazoo session failed: %s", exc)
