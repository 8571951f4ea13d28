"""The Runtime part: start, stop, kill, pause and restart the nodes of a run.

Implementations (``chaoskit.runtimes``): local child processes (local.py, the default),
containers of the run (docker.py) and the containers of a running docker-compose
project (compose.py). A runtime owns everything it starts and must leave nothing
behind after ``close``, whatever happened.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from chaoskit.core.target import Launch, NodeInfo


@runtime_checkable
class Runtime(Protocol):
    """Node lifecycle: every method is idempotent and safe to call in any state."""

    name: str

    @property
    def image(self) -> str | None:
        """The image nodes run in (container runtimes), ``None`` for processes."""

    async def launch(self, node: NodeInfo, launch: Launch) -> None:
        """Start ``node`` for the first time with ``launch``; remember it for restarts.

        Output goes to ``<run dir>/logs/<node>.log``.
        """

    async def start(self, node: str) -> None:
        """(Re)start a node that is not running, with the command it was launched with."""

    async def kill(self, node: str) -> None:
        """SIGKILL (or ``docker kill``): the node dies without any chance to clean up."""

    async def signal(self, node: str, sig: int) -> None:
        """Deliver ``sig`` to the node and return at once, without waiting for any effect.

        A power loss kills a node while its fault file system holds the node's I/O: the
        node cannot exit before that I/O is answered, so waiting for its exit there
        would deadlock (``kill`` waits; this does not). Nothing when the node is down."""

    async def stop(self, node: str) -> None:
        """Stop gracefully (SIGTERM, then SIGKILL after a grace period)."""

    async def pause(self, node: str) -> None:
        """SIGSTOP (or ``docker pause``): the node freezes, its sockets stay open."""

    async def resume(self, node: str) -> None:
        """SIGCONT (or ``docker unpause``)."""

    def is_running(self, node: str) -> bool:
        """True when the node's process exists and is not known to have exited."""

    def pid(self, node: str) -> int | None:
        """The node's process id on this machine, when it is a local process that runs.

        The embedded proxy tells connection sources apart by it (destination mode)."""

    def pids(self) -> list[int]:
        """Process ids of the nodes running now on this machine (the registry of runs)."""

    async def close(self) -> None:
        """Stop every node and release every resource; nothing may remain."""

    def kill_now(self) -> None:
        """Kill every node at once, synchronously: the last resort when the controller
        leaves and its asynchronous teardown could not finish (a second Ctrl-C)."""
