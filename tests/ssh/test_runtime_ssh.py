"""SshRuntime on real hosts: placement, start/kill/pause/resume/stop, logs, clock, close."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from chaoskit.core.target import Launch
from chaoskit.errors import ConfigError, SetupError
from chaoskit.remote.inventory import load_inventory
from chaoskit.remote.runtime import SshRuntime

from .conftest import DATA_DIR, PYTHON_ON_HOST, SshHosts, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.integration]

#: A node that serves HTTP on its port, from its data dir (its cwd).
HTTP_NODE = Launch(["python3", "-m", "http.server", "8000"])
#: Writes the time it sees (libfaketime's) to ``now`` in its cwd ten times a second.
CLOCK_NODE = Launch(
    [
        "python3",
        "-c",
        "import os, time\n"
        "while True:\n"
        "    open('now.tmp', 'w').write(repr(time.time()))\n"
        "    os.replace('now.tmp', 'now')\n"
        "    time.sleep(0.1)\n",
    ]
)


def state(hosts: SshHosts, index: int, pid: int) -> str:
    """The process state letter (R, S, T, ...) of ``pid`` in host ``index``'s container."""
    code, out = hosts.exec(hosts.hosts[index], ["cat", f"/proc/{pid}/stat"])
    if code != 0:
        return "gone"
    return out[out.rfind(")") + 2 :].split()[0]


async def answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def test_lifecycle_of_real_processes(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(2))
    try:
        placed = await rt.setup(["n1", "n2"])
        assert [p.host for p in placed] == ["h1", "h2"]
        assert placed[0].inside.host == ssh_hosts.hosts[0].ip
        assert str(placed[0].inside.data_dir) == f"{DATA_DIR}/{run_id}/nodes/n1"
        assert rt.peers("n1") == {"n2": {"api": (ssh_hosts.hosts[1].ip, 8000)}}
        for p in placed:
            await rt.launch(p.outside, HTTP_NODE)
        for p in placed:
            await wait_for(lambda p=p: answers(p.outside.url), what=f"{p.id} serving")
        pid = rt.pid("n1")
        assert pid is not None and rt.is_running("n1")
        # The node leads its own session and group, and carries the run's marker.
        _, stat = ssh_hosts.exec(
            ssh_hosts.hosts[0], ["ps", "-o", "pid=,pgid=,sid=", "-p", str(pid)]
        )
        assert stat.split() == [str(pid)] * 3
        _, env = ssh_hosts.exec(ssh_hosts.hosts[0], ["cat", f"/proc/{pid}/environ"])
        assert f"CHAOSKIT_RUN_ID={run_id}" in env.split("\0")

        await rt.pause("n1")
        assert state(ssh_hosts, 0, pid) == "T"
        assert not await answers(placed[0].outside.url)
        await rt.resume("n1")
        assert state(ssh_hosts, 0, pid) in ("S", "R")
        await wait_for(lambda: answers(placed[0].outside.url), what="n1 answers after resume")

        await rt.kill("n1")
        assert not rt.is_running("n1")
        assert state(ssh_hosts, 0, pid) == "gone"
        await rt.start("n1")
        assert rt.is_running("n1") and rt.pid("n1") != pid
        await wait_for(lambda: answers(placed[0].outside.url), what="n1 restarted")

        await rt.pause("n2")
        await rt.stop("n2")  # a paused node is woken so that SIGTERM can end it
        assert not rt.is_running("n2")
    finally:
        await rt.close()
    log = (tmp_path / "logs" / "n1.log").read_text()
    assert "GET / HTTP" in log  # fetched back from the host


async def test_node_that_exits_is_seen_at_once(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(1))
    try:
        (p,) = await rt.setup(["n1"])
        await rt.launch(p.outside, Launch(["sh", "-c", "echo bye; exit 3"]))
        await wait_for(lambda: _false(rt.is_running("n1")), timeout=10, what="exit seen")
        # Copied back before the exit is reported: why a node died is known at once.
        assert (tmp_path / "logs" / "n1.log").read_text() == "bye\n"
    finally:
        await rt.close()


async def _false(value: bool) -> bool:
    return not value


async def test_missing_binary_and_too_many_nodes(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(1))
    try:
        with pytest.raises(ConfigError, match="2 nodes need 2 hosts"):
            await rt.setup(["n1", "n2"])
        (p,) = await rt.setup(["n1"])
        with pytest.raises(
            SetupError,
            match=r"^host h1: cannot start node n1: command 'mysvc' not found on the host$",
        ):
            await rt.launch(p.outside, Launch(["mysvc", "--id", "n1"]))
    finally:
        await rt.close()


async def test_a_setup_that_fails_half_way_leaves_no_directory(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    """h2's data directory cannot be made: setup fails after h1's was made, and close
    removes h1's (the run_id fixture checks every host)."""
    path = ssh_hosts.inventory_file(2)
    path.write_text(path.read_text().replace('name = "h2"', 'name = "h2"\ndata_dir = "/proc/ck"'))
    rt = SshRuntime(run_id, tmp_path, load_inventory(path))
    try:
        with pytest.raises(SetupError, match=r"^host h2: "):
            await rt.setup(["n1", "n2"])
        code, _ = ssh_hosts.exec(ssh_hosts.hosts[0], ["test", "-d", f"{DATA_DIR}/{run_id}"])
        assert code == 0  # made on h1 before h2 failed
    finally:
        await rt.close()


async def test_python_argv_uses_the_hosts_interpreter(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    import sys

    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(1))
    try:
        (p,) = await rt.setup(["n1"])
        argv = [
            sys.executable,
            "-c",
            "import sys, json; print(json.dumps([sys.executable, *sys.argv[1:]]))",
            "a b",
            "$X",
        ]
        await rt.launch(p.outside, Launch(argv))
        await wait_for(lambda: _false(rt.is_running("n1")), timeout=10, what="exit")
        await rt.fetch_logs()
        assert json.loads((tmp_path / "logs" / "n1.log").read_text()) == [
            PYTHON_ON_HOST,
            "a b",
            "$X",
        ]
    finally:
        await rt.close()


async def test_clock_offset_is_seen_by_the_process(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(2))
    try:
        placed = await rt.setup(["n1", "n2"])
        clock = await rt.clock()
        for p in placed:
            await rt.launch(p.outside, CLOCK_NODE)
        host = ssh_hosts.hosts[0]
        now_file = f"{DATA_DIR}/{run_id}/nodes/n1/now"

        async def skew() -> float:
            code, seen = ssh_hosts.exec(host, ["cat", now_file])
            _, real = ssh_hosts.exec(host, ["date", "+%s.%N"])
            return float(seen) - float(real) if code == 0 and seen else float("nan")

        await wait_for(lambda: _near(skew, 0.0), what="n1 writes true time")
        clock.set("n1", offset_s=1000.0)
        await clock.sync()
        await wait_for(lambda: _near(skew, 1000.0), what="n1 sees +1000 s")
        clock.set("n1", offset_s=-500.0, rate=2.0)
        await clock.sync()
        await wait_for(lambda: _near(skew, -500.0, tolerance=5.0), what="n1 sees -500 s")
        clock.reset()
        await clock.sync()
        await wait_for(lambda: _near(skew, 0.0), what="n1 back to true time")
        assert clock.offsets()["n1"] == {"offset_s": 0.0, "rate": 1.0}
    finally:
        await rt.close()


async def _near(read: object, target: float, tolerance: float = 1.0) -> bool:
    value = await read()  # type: ignore[operator]
    return abs(value - target) < tolerance


async def test_lost_connection_then_start_watches_the_same_process(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(1))
    try:
        (p,) = await rt.setup(["n1"])
        await rt.launch(p.outside, HTTP_NODE)
        pid = rt.pid("n1")
        assert pid is not None
        (await rt.pool.connect("h1")).close()  # the network drops the SSH connection
        await wait_for(lambda: _false(rt.is_running("n1")), timeout=15, what="watch lost")
        assert state(ssh_hosts, 0, pid) in ("S", "R")  # the node itself lives on
        await rt.start("n1")  # reconnects and adopts it: no second copy
        assert rt.is_running("n1") and rt.pid("n1") == pid
        _, out = ssh_hosts.exec(
            ssh_hosts.hosts[0],
            ["sh", "-c", f"grep -l CHAOSKIT_RUN_ID={run_id} /proc/[0-9]*/environ"],
        )
        assert out.split() == [f"/proc/{pid}/environ"]
        await rt.kill("n1")
        assert not rt.is_running("n1") and state(ssh_hosts, 0, pid) == "gone"
        await rt.start("n1")  # the adopted one is gone: a fresh start
        assert rt.is_running("n1") and rt.pid("n1") != pid
    finally:
        await rt.close()
