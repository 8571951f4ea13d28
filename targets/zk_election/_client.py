"""One candidate: kazoo's Election recipe, its belief on ``/status``, its server beside it.

The candidate is written the way kazoo's documentation suggests: a ``KazooClient``
with a short session timeout, ``zk.Election(path, id).run(lead)``, and a leadership
function that works in ticks (``--tick-ms``) until it decides it no longer leads.
How it decides is the ``--handling`` option:

- ``listener`` (done right): a connection-state listener steps down the moment kazoo
  reports ``SUSPENDED`` or ``LOST``, and the work loop looks at that belief before
  every tick of work;
- ``polling``: no listener; every ``--check-ticks`` ticks the leader asks ZooKeeper
  whether its lock znode still exists (a common "verify before the next batch").

Either way a process that was stopped cannot tell that time went by: after SIGCONT
it answers from the belief it had when it stopped until kazoo's thread (listener) or
its next check (polling) tells it that ZooKeeper expired its session and gave the
lock to the next candidate. The lock znode's creation zxid, reported as the term, is
the fencing token that would make that window harmless (docs/zookeeper.md).

The ZooKeeper server (the command after ``--``) runs beside the candidate as its
child, in its own session so that pausing the candidate does not pause the server,
and with a parent-death signal so that killing the candidate kills it too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Literal

from aiohttp import web

from chaoskit.targets._child import spawn_server
from chaoskit.targets.etcd_election._client import _first, _hostport, say

Handling = Literal["listener", "polling"]
HANDLINGS: tuple[Handling, ...] = ("listener", "polling")
ELECTION = "/chaoskit-election"
RETRY_S = 0.2


def start_server(argv: list[str], work_dir: Path) -> subprocess.Popen[bytes]:
    """This node's ZooKeeper server, logging to ``work_dir/zookeeper.log``."""
    return spawn_server(argv, work_dir / "zookeeper.log", cwd=work_dir)


class Candidate:
    """The candidate's belief (leader?, token) and the campaign thread that keeps it.

    kazoo's recipes block, so the campaign runs on its own thread; the status API on
    the asyncio thread only reads ``belief``, a tuple replaced as a whole.
    """

    def __init__(self, zk: Any, node_id: str, *, tick_s: float, check_ticks: int,
                 handling: Handling) -> None:  # fmt: skip
        self.zk = zk
        self.id = node_id
        self.tick_s = tick_s
        self.check_ticks = check_ticks
        self.handling = handling
        self.belief: tuple[bool, int | None] = (False, None)
        #: Set once connected: until then the status API answers 503, so chaoskit
        #: starts its faults only when the ensemble serves and the campaign is on.
        self.campaigning = threading.Event()
        self._stop = threading.Event()
        if handling == "listener":
            zk.add_listener(self._on_state)

    def status(self) -> dict[str, Any]:
        leads, token = self.belief
        if leads:
            return {"role": "leader", "term": token, "leader": self.id}
        return {"role": "follower", "term": None, "leader": None}

    def stop(self) -> None:
        self._stop.set()

    def campaign(self) -> None:
        """Forever (until ``stop``): campaign, lead until stepping down, campaign again."""
        from kazoo.exceptions import KazooException

        while not (self.zk.connected or self._stop.wait(RETRY_S)):
            pass  # kazoo refuses calls until its first connection
        self.campaigning.set()
        election = self.zk.Election(ELECTION, self.id)
        while not self._stop.is_set():
            try:
                election.run(self._lead, election)
            except KazooException as exc:
                say(f"{self.id}: campaign interrupted ({type(exc).__name__}), retrying")
                self._stop.wait(RETRY_S)

    def _lead(self, election: Any) -> None:
        """Elected: work tick by tick while the belief holds; returning releases the lock."""
        path = f"{ELECTION}/{election.lock.node}"
        stat = self.zk.exists(path)
        if stat is None:
            return
        self.belief = (True, int(stat.czxid))
        say(f"{self.id}: elected, fencing token {stat.czxid} (czxid of {path})")
        ticks = 0
        while not self._stop.wait(self.tick_s):
            ticks += 1
            if not self._still_leads(path, ticks):
                break
        self._step_down("stopping" if self._stop.is_set() else "lock znode gone")

    def _still_leads(self, path: str, ticks: int) -> bool:
        """The check before the next tick of work, as ``handling`` says."""
        if self.handling == "listener":
            return self.belief[0]
        if ticks % self.check_ticks:
            return True
        from kazoo.exceptions import KazooException

        try:
            return self.zk.exists(path) is not None
        except KazooException:
            return False

    def _on_state(self, state: str) -> bool:
        """kazoo's listener (on kazoo's thread): SUSPENDED or LOST ends the leadership."""
        if state != "CONNECTED" and self.belief[0]:
            self._step_down(f"session {state}")
        return False  # stay registered

    def _step_down(self, why: str) -> None:
        if self.belief[0]:
            self.belief = (False, None)
            say(f"{self.id}: {why}, stepping down")


def make_client(zk_address: str, session_timeout: float) -> Any:
    """A kazoo client of this node's own server that retries forever (never gives up)."""
    from kazoo.client import KazooClient
    from kazoo.retry import KazooRetry

    def forever() -> KazooRetry:
        return KazooRetry(max_tries=-1, delay=0.1, max_delay=1.0)

    return KazooClient(
        hosts=zk_address,
        timeout=session_timeout,
        connection_retry=forever(),
        command_retry=forever(),
    )


async def serve(args: argparse.Namespace) -> None:
    """The status API on ``--listen`` and the campaign, until SIGTERM."""
    zk = make_client(args.zk, args.session_timeout)
    zk.start_async()
    node = Candidate(zk, args.id, tick_s=args.tick_ms / 1000, check_ticks=args.check_ticks,
                     handling=args.handling)  # fmt: skip
    thread = threading.Thread(target=node.campaign, name="campaign", daemon=True)
    thread.start()

    async def status(request: web.Request) -> web.Response:
        if not node.campaigning.is_set():
            return web.json_response({"error": "not connected to ZooKeeper yet"}, status=503)
        return web.json_response(node.status())

    app = web.Application()
    app.router.add_get("/status", status)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    host, port = _hostport(args.listen)
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        node.stop()
        await runner.cleanup()
        await _first(asyncio.to_thread(_close, zk), asyncio.sleep(3.0))


def _close(zk: Any) -> None:
    """Close the session (ZooKeeper deletes the lock znode at once, not after a timeout)."""
    with contextlib.suppress(Exception):
        zk.stop()
        zk.close()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m chaoskit.targets.zk_election",
        usage="%(prog)s --id ID --listen HOST:PORT --zk HOST:PORT --work-dir DIR [...] "
        "-- SERVER COMMAND",
    )
    p.add_argument("--id", required=True)
    p.add_argument("--listen", required=True, help="HOST:PORT of the status API")
    p.add_argument("--zk", required=True, help="HOST:PORT of this node's ZooKeeper server")
    p.add_argument("--work-dir", required=True, help="where the server runs and logs")
    p.add_argument("--session-timeout", type=float, default=2.0, help="seconds")
    p.add_argument("--tick-ms", type=float, default=100.0)
    p.add_argument("--check-ticks", type=int, default=6)
    p.add_argument("--handling", choices=HANDLINGS, default="polling")
    p.add_argument("server", nargs=argparse.REMAINDER, help="the server command, after --")
    args = p.parse_args(argv)
    args.server = [a for i, a in enumerate(args.server) if i or a != "--"]
    if not args.server:
        p.error("the ZooKeeper server command is missing (after --)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    server = start_server(args.server, Path(args.work_dir))
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(3.0)
        if server.poll() is None:
            server.kill()
