"""Fixtures for the clock tests: a real FaketimeClock and child processes under it."""

from __future__ import annotations

import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chaoskit.clock.faketime import FaketimeClock, find_libfaketime
from chaoskit.errors import SetupError

CHILD = Path(__file__).with_name("timechild.py")
NODES = ["n1", "n2", "n3"]
#: Generous: two cores shared with other test runs.
ANSWER_TIMEOUT_S = 10.0


class TimeChild:
    """One child process that answers "what time is it?" on its stdin/stdout."""

    def __init__(self, extra_env: dict[str, str] | None, http: bool = False) -> None:
        env = {**os.environ, **(extra_env or {})}
        argv = [sys.executable, str(CHILD), *(["--http"] if http else [])]
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        # Wait until it is up, so that no question includes its start-up time.
        port = int(self._line().split()[1])
        self.port = port if http else None

    def _line(self) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], ANSWER_TIMEOUT_S)
        if not ready:
            raise AssertionError(f"child gave no answer within {ANSWER_TIMEOUT_S} s")
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"child exited with status {self.proc.wait()}")
        return line.strip()

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line()

    def now(self) -> tuple[float, float]:
        wall, mono = self.ask("now").split()
        return float(wall), float(mono)

    def stamped(self) -> tuple[float, float]:
        """The child's wall clock and our monotonic clock at the middle of the question."""
        before = time.monotonic()
        wall, _ = self.now()
        return wall, (before + time.monotonic()) / 2

    def rate(self, seconds: float = 1.5) -> float:
        """How fast the child's wall clock runs against ours over ``seconds``."""
        wall0, real0 = self.stamped()
        time.sleep(seconds)
        wall1, real1 = self.stamped()
        return (wall1 - wall0) / (real1 - real0)

    def offset(self) -> float:
        """The child's wall clock minus ours, taken at the middle of the question."""
        before = time.time()
        wall, _ = self.now()
        return wall - (before + time.time()) / 2

    def wait_offset(self, expected: float, tolerance: float = 1.0, timeout: float = 5.0) -> float:
        """Ask until the child's offset is within ``tolerance`` of ``expected``."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.offset()
            if abs(seen - expected) <= tolerance or time.monotonic() > deadline:
                return seen
            time.sleep(0.02)

    def stats(self) -> tuple[int, bool]:
        ticks, done = self.ask("stats").split()
        return int(ticks), done == "1"

    def close(self) -> None:
        """End of input first (a clean exit), SIGKILL only if that does not work."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@pytest.fixture
def libfaketime() -> Path:
    try:
        return find_libfaketime()
    except SetupError as exc:  # under CI=true a skip fails the run (tests/conftest.py)
        pytest.skip(str(exc))


@pytest.fixture
def clock(tmp_path: Path, libfaketime: Path) -> Iterator[FaketimeClock]:
    real = FaketimeClock(tmp_path / "clock", NODES)
    yield real
    real.close()


@pytest.fixture
def spawn() -> Iterator[Callable[..., TimeChild]]:
    """``spawn(env, http=False)`` starts a child; every child is killed at teardown."""
    children: list[TimeChild] = []

    def start(extra_env: dict[str, str] | None = None, http: bool = False) -> TimeChild:
        child = TimeChild(extra_env, http)
        children.append(child)
        return child

    yield start
    for child in children:
        child.close()
