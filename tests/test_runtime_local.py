"""The local runtime on real processes: kill, pause, restart, and nothing left behind."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest

from chaoskit.core.target import Launch, NodeInfo
from chaoskit.runtimes.local import LocalRuntime, find_leftovers, kill_leftovers
from tests.support.eventually import async_eventually

pytestmark = pytest.mark.integration

# A node that forks a grandchild, to prove whole process groups are handled.
SCRIPT = """
import os, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
print("started", os.getpid(), flush=True)
while True:
    print("tick", time.monotonic(), flush=True)
    time.sleep(0.05)
"""


def _node(tmp_path: Path, nid: str = "n1") -> NodeInfo:
    return NodeInfo(id=nid, index=0, host="127.0.0.1", ports={"api": 1}, data_dir=tmp_path)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[0]
    except OSError:
        return "gone"


def _alive(pid: int) -> bool:
    return _state(pid) not in ("gone", "Z")


@pytest.fixture
def run_id() -> str:
    return f"test{os.getpid()}{time.monotonic_ns() % 100000}"


async def test_lifecycle_and_close_leave_nothing(tmp_path: Path, run_id: str) -> None:
    rt = LocalRuntime(run_id, tmp_path, extra_env=lambda n: {"NODE_MARK": n})
    node = _node(tmp_path)
    try:
        await rt.launch(node, Launch(argv=[sys.executable, "-c", SCRIPT]))
        log = tmp_path / "n1.log"
        await async_eventually(lambda: "started" in log.read_text(), "the node's first line")
        pid = rt.pid("n1")
        assert pid is not None and rt.is_running("n1")
        # the node and its grandchild
        await async_eventually(lambda: len(find_leftovers(run_id)) == 2, "both processes")

        await rt.pause("n1")
        await async_eventually(lambda: _state(pid) == "T", "the node stopped")
        size = log.stat().st_size
        await asyncio.sleep(0.3)  # a window in which a running node would write
        assert log.stat().st_size == size  # frozen: no output
        await rt.resume("n1")
        await async_eventually(lambda: log.stat().st_size > size, "output after resume")

        await rt.kill("n1")
        assert not rt.is_running("n1")
        assert not _alive(pid)
        await rt.start("n1")
        assert rt.is_running("n1") and rt.pid("n1") != pid
        # the restart appends to the same log
        await async_eventually(lambda: log.read_text().count("started") == 2, "a second start")
    finally:
        await rt.close()
    # the killed generation's grandchild was in the same group, so it went too
    await async_eventually(lambda: find_leftovers(run_id) == {}, "nothing left")


async def test_close_kills_paused_nodes(tmp_path: Path, run_id: str) -> None:
    rt = LocalRuntime(run_id, tmp_path)
    await rt.launch(_node(tmp_path), Launch(argv=[sys.executable, "-c", SCRIPT]))
    await async_eventually(lambda: len(find_leftovers(run_id)) == 2, "both processes")
    await rt.pause("n1")
    await rt.close()
    await async_eventually(lambda: find_leftovers(run_id) == {}, "nothing left")


async def test_kill_leftovers_finds_orphans_by_marker(tmp_path: Path, run_id: str) -> None:
    env = dict(os.environ, CHAOSKIT_RUN_ID=run_id)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(300)", env=env, start_new_session=True
    )
    await async_eventually(lambda: proc.pid in find_leftovers(run_id), "the marked process")
    assert proc.pid in kill_leftovers(run_id)
    await asyncio.wait_for(proc.wait(), 5)
    assert find_leftovers(run_id) == {}


async def test_missing_binary_is_a_setup_error(tmp_path: Path, run_id: str) -> None:
    from chaoskit.errors import SetupError

    rt = LocalRuntime(run_id, tmp_path)
    with pytest.raises(SetupError, match="cannot start node n1"):
        await rt.launch(_node(tmp_path), Launch(argv=["/nonexistent/binary"]))
    await rt.close()
