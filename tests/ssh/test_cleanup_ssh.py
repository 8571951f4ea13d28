"""What a killed controller leaves on the hosts, and ``cleanup_inventory`` removing it
(and only it: a run whose controller lives is spared)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.core.target import Launch
from chaoskit.remote.cleanup import cleanup_hosts, cleanup_inventory
from chaoskit.remote.runtime import SshRuntime

from .conftest import SshHosts, leftovers, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.integration]
HERE = Path(__file__).parent
REPO = HERE.parent.parent


async def test_sigkilled_controller_leaves_what_cleanup_removes(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    inventory = ssh_hosts.inventory_file(3)
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "killed_controller.py"),
        str(inventory),
        run_id,
        str(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), 120)  # type: ignore[union-attr]
        if line.strip() != b"ready":
            err = await proc.stderr.read()  # type: ignore[union-attr]
            raise AssertionError(f"controller did not get ready: {line!r} {err[-2000:]!r}")
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    left = leftovers(ssh_hosts, run_id)
    assert sum("process" in x for x in left) == 4, left  # n1 and its child, n2, n3
    assert sum("rule" in x for x in left) == 5, left  # two cuts: reset + drop each; loss
    assert sum("/var/tmp/chaoskit/" in x for x in left) == 3, left

    # Without a run id: the controller is dead and ran here, so its run goes.
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "chaoskit", "cleanup", "--inventory", str(inventory)],
        capture_output=True,
        text=True,
        env={**env, "CHAOSKIT_STATE_DIR": str(tmp_path / "state")},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert sum(x.startswith("killed process") for x in lines) == 4, lines
    assert sum(x.startswith("removed iptables rule") for x in lines) == 5, lines
    assert sum(x.startswith("removed /var/tmp/chaoskit/") for x in lines) == 3, lines
    assert leftovers(ssh_hosts, run_id) == []
    again = await asyncio.to_thread(cleanup_inventory, inventory, run_id)
    assert again == ["nothing left behind on the hosts"]


async def test_cleanup_spares_a_run_in_progress(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(1))
    try:
        (p,) = await rt.setup(["n1"])
        await rt.launch(p.outside, Launch(["sleep", "1000"]))
        lines = await cleanup_hosts(ssh_hosts.inventory(1))
        assert f"left run {run_id} on host h1: its controller is still running" in lines
        assert rt.is_running("n1")
    finally:
        await rt.close()


async def test_kill_now_reaches_the_hosts_without_the_loop(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(2))
    try:
        for p in await rt.setup(["n1", "n2"]):
            await rt.launch(p.outside, Launch(["sleep", "1000"]))
        rt.kill_now()  # blocks this loop: it uses its own thread and connections
        await wait_for(
            lambda: _async(not rt.is_running("n1") and not rt.is_running("n2")),
            timeout=15,
            what="the watchers to see both nodes gone",
        )
    finally:
        await rt.close()


async def _async(value: bool) -> bool:
    return value


def test_cleanup_command_says_one_line_for_a_bad_inventory(tmp_path: Path) -> None:
    bad = tmp_path / "hosts.toml"
    bad.write_text('[[hosts]]\nname = "a"\n')
    done = subprocess.run(
        [sys.executable, "-m", "chaoskit", "cleanup", "--inventory", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {bad}: hosts[0] (a): missing field 'address'"
