"""The reference Raft spread over five SSH hosts, driven without the controller:
SshRuntime + SshIptablesNetwork + SshClock, status through SSH tunnels.

It elects a leader; an isolated leader is replaced; a killed and a paused leader are
replaced and rejoin; a skewed clock is survived; after healing one leader is agreed
on by all; nothing of the run remains on any host.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from chaoskit.core.target import Status
from chaoskit.remote.runtime import Placement, SshRuntime
from chaoskit.targets.raft.target import RaftTarget

from .conftest import SshHosts, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.slow]
IDS = ["n1", "n2", "n3", "n4", "n5"]


class View:
    """Asks every node who leads, through the tunnels (the controller's path)."""

    def __init__(self, target: RaftTarget, placed: list[Placement]) -> None:
        self.target = target
        self.placed = placed
        self.http = httpx.AsyncClient()

    async def statuses(self) -> dict[str, Status | None]:
        async def one(p: Placement) -> Status | None:
            try:
                return await self.target.status(self.http, p.outside, timeout=1.0)
            except (httpx.HTTPError, ValueError):
                return None

        found = await asyncio.gather(*(one(p) for p in self.placed))
        return {p.id: s for p, s in zip(self.placed, found, strict=True)}

    async def agreed_leader(self, among: list[str]) -> str | None:
        """The leader every node of ``among`` names, when one of them leads and all agree."""
        seen = await self.statuses()
        leaders = {n for n in among if (s := seen[n]) is not None and s.role == "leader"}
        named = {s.leader for n in among if (s := seen[n]) is not None}
        if len(leaders) == 1 and named == leaders:
            return leaders.pop()
        return None


async def test_raft_over_ssh_hosts_elects_and_fails_over(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    target = RaftTarget()
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(5, tunnel=True))
    net = None
    view = None
    try:
        placed = await rt.setup(IDS)
        assert all(p.outside.host == "127.0.0.1" for p in placed)  # tunnels
        net = rt.network()
        await net.setup()
        clock = await rt.clock()
        for p in placed:
            await rt.launch(p.outside, target.launch(p.inside, rt.peers(p.id)))
        view = View(target, placed)
        leader: list[str] = []

        async def agreed(among: list[str]) -> bool:
            found = await view.agreed_leader(among)
            leader[:] = [found] if found else []
            return found is not None

        await wait_for(lambda: agreed(IDS), timeout=60, what="a first leader")
        first = leader[0]

        # Isolated (both directions): the others elect a new leader among themselves.
        others = [n for n in IDS if n != first]
        await net.cut([(first, n) for n in others] + [(n, first) for n in others])
        await wait_for(lambda: agreed(others), timeout=60, what="a leader without the isolated one")
        second = leader[0]
        assert second != first
        await net.heal_all()
        await wait_for(lambda: agreed(IDS), timeout=60, what="one leader after healing")

        # Killed: replaced; restarted, it rejoins.
        killed = leader[0]
        await rt.kill(killed)
        rest = [n for n in IDS if n != killed]
        await wait_for(lambda: agreed(rest), timeout=60, what="a leader after the kill")
        await rt.start(killed)
        await wait_for(lambda: agreed(IDS), timeout=60, what="the killed node rejoining")

        # Paused: replaced; resumed, it steps down and follows.
        paused = leader[0]
        await rt.pause(paused)
        rest = [n for n in IDS if n != paused]
        await wait_for(lambda: agreed(rest), timeout=60, what="a leader after the pause")
        await rt.resume(paused)
        await wait_for(lambda: agreed(IDS), timeout=60, what="the paused node following")

        # The leader's clock jumps back 5 s and runs slow: a correct Raft keeps a leader.
        clock.set(leader[0], offset_s=-5.0, rate=0.5)
        await clock.sync()
        await asyncio.sleep(2.0)
        await wait_for(lambda: agreed(IDS), timeout=60, what="a leader under clock skew")
        clock.reset()
        await clock.sync()
        await wait_for(lambda: agreed(IDS), timeout=60, what="a leader after the clock heals")
    finally:
        if view is not None:
            await view.http.aclose()
        if net is not None:
            await net.close()
        await rt.close()
    logs = sorted(p.name for p in (tmp_path / "logs").iterdir())
    assert logs == [f"{n}.log" for n in IDS]
