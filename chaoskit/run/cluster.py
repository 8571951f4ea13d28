"""ChaosCluster: a running cluster that a test drives itself, then checks.

The controller is asyncio; tests are usually synchronous. The cluster runs the
controller on its own event loop in a background thread and hands each call over
to it, so observation, the proxy and the clients keep running between calls.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from chaoskit.core.records import HISTORY
from chaoskit.run.config import RunConfig
from chaoskit.run.result import RunResult
from chaoskit.store.streams import read_jsonl

if TYPE_CHECKING:
    from chaoskit.run.controller import Controller

T = TypeVar("T")
CALL_TIMEOUT_S = 120.0


class ChaosCluster:
    """Start a cluster now; apply and heal faults; ``check()`` for the verdict."""

    def __init__(self, config: RunConfig) -> None:
        from chaoskit.run.controller import Controller
        from chaoskit.run.plan import plan_run

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="chaoskit-cluster"
        )
        self._thread.start()
        self._result: RunResult | None = None
        try:
            self.controller: Controller = self._call(_make(Controller, plan_run, config))
            self._call(self.controller.start())
            self._call(_in_loop(self.controller.start_load))
        except BaseException:
            self._stop_loop()
            raise

    @property
    def run_dir(self) -> Any:
        return self.controller.run_dir

    @property
    def nodes(self) -> list[str]:
        return [n.id for n in self.controller.nodes]

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT_S) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def leader(self) -> str | None:
        """The node the observer currently sees leading, if any."""
        assert self.controller.observer is not None
        return self.controller.observer.current_leader()

    def wait_for_leader(self, timeout: float = 15.0) -> str:
        """Block until some node leads; ``AssertionError`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None:
                return leader
            time.sleep(0.05)
        raise AssertionError(f"no leader within {timeout:g} s (run {self.run_dir})")

    def apply(self, fault: str) -> int:
        """Start one fault of a named nemesis (``"isolate-leader"``, ``"partition:mode=hang"``)."""
        return self._call(self.controller.apply(fault))

    def heal(self, fault: str | None = None) -> None:
        """Stop one named fault, or every active one."""
        self._call(self.controller.heal(fault))

    def kill(self, node: str) -> None:
        self._call(self._runtime().kill(node))

    def start(self, node: str) -> None:
        self._call(self._runtime().start(node))

    def pause(self, node: str) -> None:
        self._call(self._runtime().pause(node))

    def resume(self, node: str) -> None:
        self._call(self._runtime().resume(node))

    def history(self) -> list[dict[str, Any]]:
        """The client history recorded so far."""
        return read_jsonl(self.run_dir / HISTORY).records

    def check(self) -> RunResult:
        """Heal, run the final phase, stop everything and check the recorded run."""
        if self._result is None:
            try:
                self._result = self._call(self.controller.finish())
            finally:
                self._stop_loop()
        return self._result

    def close(self) -> RunResult | None:
        """Tear down without a verdict if ``check`` was never called (fixture teardown)."""
        if self._result is None and self._thread.is_alive():
            try:
                self._result = self._call(self.controller.finish(interrupted=True))
            finally:
                self._stop_loop()
        return self._result

    def _runtime(self) -> Any:
        assert self.controller.runtime is not None
        return self.controller.runtime

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


async def _in_loop(fn: Any) -> Any:
    """Call a synchronous function that creates tasks, from inside the loop."""
    return fn()


async def _make(controller_cls: Any, plan_run: Any, config: RunConfig) -> Any:
    """Build the controller inside the loop (it creates asyncio objects)."""
    return controller_cls(plan_run(config))
