"""Run a local cluster of reference nodes as child processes (tests and benchmarks).

Not the chaoskit runtime: a small synchronous helper that starts ``python -m
targets.<name>`` nodes on free 127.0.0.1 ports with direct peer addresses, polls their
status, kills them, and always kills every process it started on ``close``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx

from chaoskit.runtimes.ports import reserve_port
from chaoskit.targets._node._target import ROOT

T = TypeVar("T")


class LocalCluster:
    """``n`` nodes ``n1..nN`` of ``module`` under ``base_dir``; use as a context manager."""

    def __init__(
        self,
        module: str,
        n: int,
        base_dir: Path,
        extra_args: Sequence[str] = (),
        *,
        seed: int | None = None,
    ) -> None:
        """``seed``: node i gets ``--seed seed + i``, as ``chaoskit run`` does. One seed for
        every node would give them the same election timeouts, in lockstep: split votes
        for as long as their timers stay aligned."""
        self.module = module
        self.seed = seed
        self.ids = [f"n{i + 1}" for i in range(n)]
        self.ports = {node: reserve_port() for node in self.ids}
        self.base_dir = base_dir
        base_dir.mkdir(parents=True, exist_ok=True)
        self.extra_args = list(extra_args)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.http = httpx.Client(timeout=0.5)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, node: str) -> str:
        return f"http://127.0.0.1:{self.ports[node]}"

    def argv(self, node: str) -> list[str]:
        argv = [sys.executable, "-m", self.module, "--id", node]
        argv += ["--listen", f"127.0.0.1:{self.ports[node]}"]
        argv += ["--data-dir", str(self.base_dir / node)]
        if self.seed is not None:
            argv += ["--seed", str(self.seed + self.ids.index(node))]
        for peer in self.ids:
            if peer != node:
                argv += ["--peer", f"{peer}=127.0.0.1:{self.ports[peer]}"]
        return argv + self.extra_args

    def start(self, node: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p
        )
        with open(self.base_dir / f"{node}.log", "ab") as log:
            self.procs[node] = subprocess.Popen(
                self.argv(node),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def start_all(self) -> None:
        for node in self.ids:
            self.start(node)

    def alive(self, node: str) -> bool:
        proc = self.procs.get(node)
        return proc is not None and proc.poll() is None

    def kill(self, node: str) -> None:
        """SIGKILL the node's process group and reap it."""
        proc = self.procs.get(node)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def close(self) -> None:
        for node in self.ids:
            self.kill(node)
        self.http.close()

    def status(self, node: str) -> dict[str, Any] | None:
        """The node's ``/status``, or None when it does not answer."""
        try:
            resp = self.http.get(f"{self.url(node)}/status")
            body: dict[str, Any] = resp.json()
            return body
        except (httpx.HTTPError, ValueError):
            return None

    def leaders(self) -> dict[str, dict[str, Any]]:
        """Every live node that says it leads, with its status."""
        out = {}
        for node in self.ids:
            if self.alive(node) and (st := self.status(node)) and st["role"] == "leader":
                out[node] = st
        return out

    def stable_leader(self) -> str | None:
        """The leader every live node agrees on, in one term, or None."""
        statuses = [self.status(n) for n in self.ids if self.alive(n)]
        if not statuses or any(s is None for s in statuses):
            return None
        leaders = {(s["leader"], s["term"]) for s in statuses if s is not None}
        roles = [s["role"] for s in statuses if s is not None]
        if len(leaders) != 1 or roles.count("leader") != 1:
            return None
        leader: str | None = next(iter(leaders))[0]
        return leader

    def wait_for(self, probe: Callable[[], T | None], timeout: float, every: float = 0.01) -> T:
        """Poll ``probe`` until it returns something not None; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            value = probe()
            if value is not None:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout} s")
            time.sleep(every)
