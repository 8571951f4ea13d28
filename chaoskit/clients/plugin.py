"""Client plug-ins: a user's own class carries out a workload's operations.

Most leader-elected services speak their own protocol, so chaoskit cannot know how
to read, write or compare-and-set on them. A client class can, Jepsen-style::

    class MyClient:
        def open(self, node):          # chaoskit.NodeInfo: id, host, port, ...
            self.conn = mydb.connect(node.host, node.port)
        def invoke(self, op):          # {"f": "read"|"write"|"cas"|..., "key", "value"}
            if op["f"] == "read":
                return self.conn.get(op["key"])       # a plain value: ok, this was read
            if op["f"] == "cas":
                if not self.conn.cas(op["key"], *op["value"]):
                    raise OpFailed("cas mismatch")     # certainly did not happen: fail
                return None
            ...
        def close(self):
            self.conn.close()

Each method may be a plain function or ``async def``. The client runner keeps one
instance per logical client process, opened against the node that process talks to;
it opens a fresh instance when the process moves to another node or after an
operation ended ``info`` (Jepsen retires such a process: its connection may be in any
state). ``invoke`` returns an ``Outcome`` or a plain value (``ok`` with that value);
it raises ``OpFailed`` when the operation certainly did not take effect (``fail``:
a refusal, a compare-and-set whose expected value did not match), and any other
exception means "unknown" (``info``): a dropped connection after a write was sent
may or may not have applied it. A call that takes longer than the op time-out is
``info`` too, and that instance is abandoned.

Sync methods run on one daemon thread per instance, so a client that is not
thread-safe sees one thread, and a call that hangs forever cannot keep chaoskit from
exiting (``asyncio.to_thread``'s pool threads are joined at exit, so a hung call
there would hang the process). An ``async def`` method runs on chaoskit's event loop:
it must not block (a blocking call there stalls the whole run, observer included, and
no time-out can interrupt it); write such a method as a plain ``def`` instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import inspect
import queue
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from chaoskit.core.client import OpFailed
from chaoskit.core.target import NodeInfo, Outcome
from chaoskit.errors import ConfigError

#: The methods a client class needs and how many arguments each takes besides self.
METHODS: dict[str, tuple[int, str]] = {
    "open": (1, "open(node)"),
    "invoke": (1, "invoke(op)"),
    "close": (0, "close()"),
}
#: Error texts in the history are cut to this length (a traceback is no error line).
MAX_ERROR = 200


def load_client_class(ref: str, *, folder: Path | None, where: str) -> type[Any]:
    """Import ``module:Class`` with ``folder`` first on ``sys.path`` and check its shape.

    ``where`` names the spec file and table for the one-line ``ConfigError`` that any
    problem gives (import error, not a class, a missing method, a wrong signature).
    """
    head = f"{where}: client class '{ref}'"
    cls = import_object(ref, folder=folder, head=head)
    check_client_class(cls, head)
    return cls  # type: ignore[no-any-return]


def import_object(ref: str, *, folder: Path | None, head: str) -> Any:
    """The object ``module:attr`` names, imported with ``folder`` first on ``sys.path``;
    a one-line ``ConfigError`` starting with ``head`` for any problem (user code may
    raise anything while it is imported). The folder stays on the path: the module may
    import its siblings later."""
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr.isidentifier():
        raise ConfigError(f"{head}: must look like 'module:name'")
    if folder is not None and str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # any error while importing user code
        raise ConfigError(f"{head}: cannot import {module_name}: {_one_line(exc)}") from exc
    found = getattr(module, attr, None)
    if found is None:
        raise ConfigError(f"{head}: {module_name} has no attribute {attr}")
    return found


def check_client_class(cls: Any, head: str) -> None:
    """``ConfigError`` unless ``cls`` is a class with open/invoke/close of the right arity
    and a constructor that takes no arguments."""
    if not inspect.isclass(cls):
        raise ConfigError(f"{head}: is not a class (it is a {type(cls).__name__})")
    try:
        inspect.signature(cls).bind()
    except TypeError:
        raise ConfigError(f"{head}: the class must be constructible without arguments") from None
    except ValueError:
        pass  # a builtin without a signature: nothing to check
    for name, (arity, shape) in METHODS.items():
        static = inspect.getattr_static(cls, name, None)
        method = getattr(cls, name, None)
        if static is None or not callable(method):
            raise ConfigError(f"{head}: has no method {shape}")
        # Through the class a plain method still wants self; a static or class method not.
        extra = 0 if isinstance(static, staticmethod | classmethod) else 1
        try:
            inspect.signature(method).bind(*([None] * (arity + extra)))
        except TypeError:
            raise ConfigError(
                f"{head}: {name} must be {shape}, not {name}{inspect.signature(method)}"
            ) from None
        except ValueError:
            continue


class _Worker:
    """One daemon thread running a sync client's calls in order (see the module doc)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def submit(self, fn: Callable[..., Any], *args: Any) -> asyncio.Future[Any]:
        """Queue ``fn(*args)``; the future completes on the calling loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        self._queue.put((fn, args, future, loop))
        return future

    def stop(self) -> None:
        """Let the thread end once its current call returns (it may never, if hung)."""
        if self._thread is not None:
            self._queue.put(None)

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, args, future, loop = item
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting task
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, future, result, error)


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():  # abandoned after a time-out
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class ClientSession:
    """One client object, opened against one node; turns everything into ``Outcome``s.

    ``open`` and ``invoke`` never raise (but for cancellation): failures become ``fail``
    (the op was not sent) or ``info`` (it may have happened); ``close`` never raises.
    After a time-out the object is ``broken``: it may still be inside a call, so
    chaoskit never calls it again.
    """

    def __init__(self, client: Any, *, name: str = "client") -> None:
        self.client = client
        self.name = name
        self.node: str | None = None
        self.broken = False
        self._worker = _Worker(f"chaoskit-{name}")

    async def open(self, node: NodeInfo, timeout: float) -> Outcome | None:
        """Open against ``node``: None when open, else the ``fail`` the op becomes."""
        try:
            await self._call("open", timeout, node)
        except _Hung:
            self.broken = True
            return Outcome("fail", error=f"open: no answer within {timeout:g} s")
        except Exception as exc:  # noqa: BLE001 - the user's open failed: op not sent
            return Outcome("fail", error=f"open: {_one_line(exc)}")
        self.node = node.id
        return None

    async def invoke(self, op: Mapping[str, Any], timeout: float) -> Outcome:
        """Run ``op``: the client's outcome, ``fail`` for ``OpFailed``, else ``info``."""
        try:
            result = await self._call("invoke", timeout, dict(op))
        except _Hung:
            self.broken = True
            return Outcome("info", error=f"timeout: no answer within {timeout:g} s")
        except OpFailed as exc:
            return Outcome("fail", redirect=exc.redirect, error=str(exc) or "failed")
        except Exception as exc:  # noqa: BLE001 - unknown: the op may have happened
            return Outcome("info", error=_one_line(exc))
        return as_outcome(result)

    async def close(self, timeout: float) -> None:
        """Close the object (not a broken one: it may still be in a call); never raises."""
        if not self.broken and self.node is not None:
            with contextlib.suppress(Exception):
                await self._call("close", timeout)
        self.node = None
        self._worker.stop()

    async def _call(self, name: str, timeout: float, *args: Any) -> Any:
        """Call method ``name``: async ones on the loop, sync ones on the worker thread.

        A sync method that returns an awaitable (a coroutine built by a helper) is
        awaited too; the time-out covers both. Only chaoskit's own deadline raises
        ``_Hung``: a ``TimeoutError`` the client raises itself (many libraries' own
        request time-outs are ``TimeoutError``s) is an ordinary error of the call.
        """
        method = getattr(self.client, name)
        deadline = asyncio.timeout(timeout)
        try:
            async with deadline:
                if inspect.iscoroutinefunction(method):
                    result = await method(*args)
                else:
                    result = await self._worker.submit(method, *args)
                if inspect.isawaitable(result):
                    result = await result
                return result
        except TimeoutError:
            if deadline.expired():
                raise _Hung from None
            raise


class _Hung(Exception):
    """A call of the client outlived chaoskit's deadline."""


def as_outcome(result: Any) -> Outcome:
    """A client's return value as an ``Outcome``: itself, or ``ok`` with the value."""
    if isinstance(result, Outcome):
        if result.type not in ("ok", "fail", "info"):
            return Outcome("info", error=f"client returned an outcome of type {result.type!r}")
        return result
    return Outcome("ok", value=result)


def _one_line(exc: BaseException) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."
