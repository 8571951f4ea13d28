"""Loading and calling client plug-in classes: every bad class is a one-line ConfigError,
every misbehaving call an ``Outcome``, never an exception out of the session."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from chaoskit.clients.plugin import ClientSession, as_outcome, load_client_class
from chaoskit.core.client import OpFailed
from chaoskit.core.target import NodeInfo, Outcome
from chaoskit.errors import ConfigError

NODE = NodeInfo("n1", 0, "127.0.0.1", {"api": 1}, Path("/tmp"))
WHERE = "svc.toml [client]"
REPO = Path(__file__).resolve().parents[2]


def _module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def _error(folder: Path, ref: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_client_class(ref, folder=folder, where=WHERE)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{WHERE}: client class '{ref}'")
    return message


def test_loads_a_class_from_the_folder(tmp_path: Path) -> None:
    _module(
        tmp_path,
        "okclient_a",
        """
        class C:
            def open(self, node): pass
            async def invoke(self, op): return op["key"]
            def close(self): pass
    """,
    )
    cls = load_client_class("okclient_a:C", folder=tmp_path, where=WHERE)
    assert cls.__name__ == "C"


def test_import_error_names_spec_and_class(tmp_path: Path) -> None:
    assert "cannot import nosuchmod_x" in _error(tmp_path, "nosuchmod_x:C")
    _module(tmp_path, "broken_b", "import nonexistent_dependency_q\n")
    assert "No module named 'nonexistent_dependency_q'" in _error(tmp_path, "broken_b:C")
    _module(tmp_path, "syntax_c", "def f(:\n")
    assert "SyntaxError" in _error(tmp_path, "syntax_c:C")


def test_shape_errors(tmp_path: Path) -> None:
    _module(
        tmp_path,
        "shapes_d",
        """
        def fn(): pass
        class NoClose:
            def open(self, node): pass
            def invoke(self, op): pass
        class BadInvoke:
            def open(self, node): pass
            def invoke(self): pass
            def close(self): pass
        class NeedsArgs:
            def __init__(self, url): pass
            def open(self, node): pass
            def invoke(self, op): pass
            def close(self): pass
        class Static:
            @staticmethod
            def open(node): pass
            @classmethod
            def invoke(cls, op): pass
            def close(self, *args): pass
    """,
    )
    assert "must look like 'module:name'" in _error(tmp_path, "shapes_d")
    assert "has no attribute Missing" in _error(tmp_path, "shapes_d:Missing")
    assert "is not a class (it is a function)" in _error(tmp_path, "shapes_d:fn")
    assert "has no method close()" in _error(tmp_path, "shapes_d:NoClose")
    assert "invoke must be invoke(op), not invoke(self)" in _error(tmp_path, "shapes_d:BadInvoke")
    assert "without arguments" in _error(tmp_path, "shapes_d:NeedsArgs")
    load_client_class("shapes_d:Static", folder=tmp_path, where=WHERE)  # static/class/varargs


class Scripted:
    """A sync client doing what ``behaviour`` says for each op."""

    def __init__(self, behaviour: Any) -> None:
        self.behaviour = behaviour
        self.threads: set[str] = set()
        self.closed = False

    def open(self, node: NodeInfo) -> None:
        self.threads.add(threading.current_thread().name)

    def invoke(self, op: dict[str, Any]) -> Any:
        self.threads.add(threading.current_thread().name)
        return self.behaviour(op)

    def close(self) -> None:
        self.closed = True


class AsyncScripted:
    def __init__(self, behaviour: Any) -> None:
        self.behaviour = behaviour

    async def open(self, node: NodeInfo) -> None:
        await asyncio.sleep(0)

    async def invoke(self, op: dict[str, Any]) -> Any:
        await asyncio.sleep(0)
        return self.behaviour(op)

    async def close(self) -> None:
        pass


def _raise(exc: BaseException) -> Any:
    def behaviour(op: Any) -> Any:
        raise exc

    return behaviour


@pytest.mark.parametrize("kind", [Scripted, AsyncScripted])
async def test_outcomes(kind: Any) -> None:
    reset = "ConnectionResetError: reset by peer"
    cases = [
        (lambda op: 7, Outcome("ok", value=7)),
        (lambda op: None, Outcome("ok")),
        (lambda op: Outcome("fail", error="no"), Outcome("fail", error="no")),
        (_raise(OpFailed("no", redirect="n2")), Outcome("fail", redirect="n2", error="no")),
        (_raise(ConnectionResetError("reset by peer")), Outcome("info", error=reset)),
    ]
    for behaviour, expected in cases:
        session = ClientSession(kind(behaviour))
        assert await session.open(NODE, 1.0) is None and session.node == "n1"
        assert await session.invoke({"f": "read", "key": "k", "value": None}, 1.0) == expected
        await session.close(1.0)


async def test_sync_calls_share_one_thread_off_the_loop() -> None:
    client = Scripted(lambda op: 1)
    session = ClientSession(client, name="p3")
    await session.open(NODE, 1.0)
    for _ in range(3):
        await session.invoke({"f": "read"}, 1.0)
    await session.close(1.0)
    assert client.threads == {"chaoskit-p3"} and client.closed


async def test_a_hang_is_info_and_the_client_is_abandoned() -> None:
    release = threading.Event()
    client = Scripted(lambda op: release.wait(30))
    session = ClientSession(client)
    await session.open(NODE, 1.0)
    started = time.monotonic()
    outcome = await session.invoke({"f": "write", "value": 1}, 0.2)
    assert outcome.type == "info" and outcome.error is not None and "timeout" in outcome.error
    assert time.monotonic() - started < 2
    assert session.broken
    await session.close(1.0)
    assert not client.closed  # never called again while it may be inside a call
    release.set()


async def test_open_failures_are_fail() -> None:
    class Refused(Scripted):
        def open(self, node: NodeInfo) -> None:
            raise ConnectionRefusedError("refused")

    outcome = await ClientSession(Refused(None)).open(NODE, 1.0)
    assert outcome == Outcome("fail", error="open: ConnectionRefusedError: refused")

    class Slow(AsyncScripted):
        async def open(self, node: NodeInfo) -> None:
            await asyncio.sleep(30)

    outcome = await ClientSession(Slow(None)).open(NODE, 0.1)
    assert outcome is not None and outcome.type == "fail" and "no answer" in str(outcome.error)


def test_as_outcome_rejects_a_bad_type() -> None:
    assert as_outcome(Outcome("maybe", value=1)).type == "info"  # type: ignore[arg-type]


@pytest.mark.integration
def test_a_hung_sync_client_does_not_keep_the_process_alive(tmp_path: Path) -> None:
    """asyncio.to_thread's pool would be joined at exit; the session's thread is a daemon."""
    script = tmp_path / "hang.py"
    script.write_text(
        textwrap.dedent("""
        import asyncio, time
        from pathlib import Path
        from chaoskit.core.target import NodeInfo
        from chaoskit.clients.plugin import ClientSession

        class Hangs:
            def open(self, node): pass
            def invoke(self, op): time.sleep(3600)
            def close(self): pass

        async def main():
            s = ClientSession(Hangs())
            await s.open(NodeInfo("n1", 0, "127.0.0.1", {"api": 1}, Path("/tmp")), 1)
            print((await s.invoke({"f": "read"}, 0.2)).type)

        asyncio.run(main())
    """)
    )
    proc = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=30, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "info"


async def test_a_timeout_error_of_the_client_is_not_a_hang() -> None:
    """Libraries raise TimeoutError subclasses of their own (nats-py does): an error
    of the op (``info``), not chaoskit's deadline, and the object stays usable."""
    session = ClientSession(AsyncScripted(_raise(TimeoutError("nats: timeout"))))
    await session.open(NODE, 1.0)
    outcome = await session.invoke({"f": "write", "value": 1}, 5.0)
    assert outcome == Outcome("info", error="TimeoutError: nats: timeout")
    assert not session.broken
