"""One campaigning client: a lease, a campaign, and its belief, served on ``/status``.

The client is written the way many leader-election clients are: it grants a lease
with a TTL, campaigns with etcd's election API (``/v3/election/campaign`` blocks
until its key is the oldest under the election's prefix), and then believes it
leads until a lease renewal tells it the lease is gone. It counts time in ticks of
work (``--tick-ms``) and renews every ``--renew-ticks`` ticks, as raft itself counts
time in ticks: a process that was stopped cannot tell that time went by, so after
SIGCONT it goes on for the ticks left before its next renewal still believing it
leads, while etcd has long expired its lease and elected someone else. That window
is the split-brain chaoskit reports; the leader key's revision, reported as the
term, is the fencing token that would make it harmless (docs/etcd-election.md).

The etcd member runs beside the client as its child, in its own session so that
pausing the client does not pause etcd, and with a parent-death signal so that
killing the client kills the member too (nothing outlives the node).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web

from chaoskit.targets._child import spawn_server
from chaoskit.targets.etcd import _gateway as gw
from chaoskit.targets.etcd._command import Timing, member_argv

ELECTION = "chaoskit-election"
GRANT = "/v3/lease/grant"
KEEPALIVE = "/v3/lease/keepalive"
CAMPAIGN = "/v3/election/campaign"
RETRY_S = 0.2


def start_member(args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """This node's etcd member, logging to ``DATA_DIR/etcd.log``."""
    advertised = {name: _hostport(addr) for name, addr in (m.split("=", 1) for m in args.member)}
    argv = member_argv(
        args.etcd_binary,
        args.id,
        Path(args.data_dir) / "etcd",
        _hostport(args.etcd_client),
        _hostport(args.etcd_peer),
        advertised,
        token=args.token,
        timing=Timing(args.heartbeat_ms, args.election_ms, True),
    )
    return spawn_server(argv, Path(args.data_dir) / "etcd.log")


class Campaigner:
    """The client's belief (``leader``, ``token``) and the loops that maintain it."""

    def __init__(self, args: argparse.Namespace, http: httpx.AsyncClient) -> None:
        self.id: str = args.id
        self.base = "http://{}:{}".format(*_hostport(args.etcd_client))
        self.http = http
        self.ttl: int = args.ttl
        self.tick_s: float = args.tick_ms / 1000
        self.renew_ticks: int = args.renew_ticks
        self.leader = False
        self.token: int | None = None

    def status(self) -> dict[str, Any]:
        if self.leader:
            return {"role": "leader", "term": self.token, "leader": self.id}
        return {"role": "follower", "term": None, "leader": None}

    async def run(self) -> None:
        """Forever: a fresh lease, a campaign, leadership until the lease is lost."""
        while True:
            lease = await self._retry(self._grant)
            lost = asyncio.Event()
            keeper = asyncio.create_task(self._keep_alive(lease, lost))
            try:
                rev = await _first(self._campaign(lease), lost.wait())
                if isinstance(rev, int) and await self._alive(lease):
                    self.leader, self.token = True, rev
                    say(f"{self.id}: elected, fencing token {rev}")
                    await lost.wait()
            finally:
                keeper.cancel()
                if self.leader:
                    say(f"{self.id}: session expired, stepping down")
                self.leader, self.token = False, None

    async def _grant(self) -> str:
        body = await gw.call(self.http, self.base, GRANT, {"TTL": self.ttl}, 2.0)
        return str(body["ID"])

    async def _campaign(self, lease: str) -> int:
        """Blocks until elected; the leader key's revision is the fencing token."""
        body = {"name": gw.b64(ELECTION), "lease": lease, "value": gw.b64(self.id)}
        while True:
            try:
                resp = await self.http.post(self.base + CAMPAIGN, json=body, timeout=None)
            except httpx.TransportError:
                await asyncio.sleep(RETRY_S)
                continue
            if resp.status_code == 200:
                return int(resp.json()["leader"]["rev"])
            await asyncio.sleep(RETRY_S)

    async def _keep_alive(self, lease: str, lost: asyncio.Event) -> None:
        """Renew every ``renew_ticks`` ticks; a lease etcd no longer knows is lost."""
        ticks = 0
        while True:
            await asyncio.sleep(self.tick_s)
            ticks += 1
            if ticks % self.renew_ticks == 0 and not await self._alive(lease):
                lost.set()
                return

    async def _alive(self, lease: str) -> bool:
        """One keep-alive; an unreachable etcd is not proof of loss (retried next time)."""
        try:
            body = await gw.call(self.http, self.base, KEEPALIVE, {"ID": lease}, 1.0)
        except (httpx.HTTPError, gw.GatewayError):
            return True
        result = body.get("result", {})
        return int(result.get("TTL", 0)) > 0

    async def _retry(self, step: Any) -> Any:
        while True:
            try:
                return await step()
            except (httpx.HTTPError, gw.GatewayError, KeyError, ValueError):
                await asyncio.sleep(RETRY_S)


async def _first(*aws: Any) -> Any:
    """The result of whichever awaitable finishes first; the others are cancelled."""
    tasks = [asyncio.ensure_future(a) for a in aws]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        return next(iter(done)).result()
    finally:
        for task in tasks:
            task.cancel()


def say(text: str) -> None:
    print(text, flush=True)


async def serve(args: argparse.Namespace) -> None:
    """The status API on ``--listen`` and the campaign, until SIGTERM."""
    async with httpx.AsyncClient() as http:
        node = Campaigner(args, http)

        async def status(request: web.Request) -> web.Response:
            return web.json_response(node.status())

        app = web.Application()
        app.router.add_get("/status", status)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        host, port = _hostport(args.listen)
        await web.TCPSite(runner, host, port).start()
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await _first(node.run(), stop.wait())
        finally:
            await runner.cleanup()


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m chaoskit.targets.etcd_election")
    p.add_argument("--id", required=True)
    p.add_argument("--listen", required=True, help="HOST:PORT of the status API")
    p.add_argument("--etcd-client", required=True, help="HOST:PORT of this node's etcd")
    p.add_argument("--etcd-peer", required=True, help="HOST:PORT etcd listens on for peers")
    p.add_argument("--member", action="append", default=[], help="NAME=HOST:PORT advertised")
    p.add_argument("--data-dir", required=True)
    p.add_argument("--token", default="chaoskit-election")
    p.add_argument("--etcd-binary", default="etcd")
    p.add_argument("--ttl", type=int, default=2, help="lease TTL in seconds")
    p.add_argument("--tick-ms", type=float, default=100.0)
    p.add_argument("--renew-ticks", type=int, default=6)
    p.add_argument("--heartbeat-ms", type=int, default=100)
    p.add_argument("--election-ms", type=int, default=1000)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    member = start_member(args)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(args))
    finally:
        member.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            member.wait(3.0)
        if member.poll() is None:
            member.kill()


def _hostport(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)
