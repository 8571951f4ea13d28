"""Disk faults in containers: each node's /data is its fault file system on this machine.

The file system runs beside the controller and is bound into the node's container,
which gets no privilege, no device and no FUSE of its own; a power loss freezes the
file system, SIGKILLs the container's init by its process id here (the engine's own
kill would wait for an exit the frozen node cannot make), drops what was not synced,
and the container restarts on the same mount.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaoskit.core.target import Launch
from chaoskit.disk import DiskFaults, check_fuse_available, fault_mounts
from chaoskit.disk.nodes import NodeDisks
from chaoskit.errors import SetupError
from chaoskit.runtimes import registry
from chaoskit.runtimes.containers import leftovers
from chaoskit.runtimes.docker import DockerRuntime
from tests.support.eventually import async_eventually

pytestmark = [pytest.mark.docker, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]

#: A node that writes one synced record and one unsynced record into /data, then waits.
WRITER = (
    "import os, time\n"
    "fd = os.open('/data/log', os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)\n"
    "os.write(fd, b'synced\\n'); os.fsync(fd)\n"
    "d = os.open('/data', os.O_RDONLY); os.fsync(d)\n"
    "os.write(fd, b'unsynced\\n')\n"
    "print('ready', flush=True)\n"
    "time.sleep(600)\n"
)


@pytest.fixture
def fuse() -> None:
    try:
        check_fuse_available()
    except SetupError as exc:
        pytest.skip(str(exc))


async def test_power_loss_of_a_container_on_its_fault_file_system(
    images: list[str], run_id: str, fuse: None, tmp_path: Path
) -> None:
    runtime = DockerRuntime(run_id, tmp_path, host_data=True)
    faults = DiskFaults(run_id)
    disks = NodeDisks(faults, runtime)
    try:
        (placed,) = runtime.place_nodes(["n1"])
        await disks.mount({"n1": placed.outside.data_dir})
        await runtime.launch(placed.outside, Launch(["python", "-c", WRITER]))
        log = tmp_path / "logs" / "n1.log"

        async def ready() -> bool:
            return log.exists() and "ready" in log.read_text()

        await async_eventually(ready, "the writer in the container")
        data = placed.outside.data_dir / "log"
        assert data.read_bytes() == b"synced\nunsynced\n"  # the node's view, on the host
        attrs = runtime._nodes["n1"].container.attrs  # what the container was given
        host = attrs["HostConfig"]
        assert not host.get("CapAdd") and not host.get("Devices") and not host.get("Privileged")
        assert f"{placed.outside.data_dir}:/data:rw" in host["Binds"]

        dropped = await disks.power_loss(["n1"])
        assert dropped["n1"]["dropped_files"] == 1
        assert not runtime.is_running("n1")
        assert data.read_bytes() == b"synced\n"
        await runtime.start("n1")  # restarts on the same mount and appends again

        async def again() -> bool:
            return data.read_bytes() == b"synced\nsynced\nunsynced\n"

        await async_eventually(again, "the restarted container's records")
    finally:
        await runtime.close()
        await disks.aclose()
    assert not [m for m in fault_mounts() if m.run_id == run_id]
    assert not faults.run_dir.exists()


def test_raft_in_containers_under_power_loss_of_a_majority(
    images: list[str], fuse: None, tmp_path: Path
) -> None:
    """The correct Raft keeps every acknowledged add; nothing of the run remains."""
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200")
    args = ["--target", "raft", "--nemesis", "power-loss-majority", "--workload", "set"]
    args += ["--nodes", "3", "--time-limit", "20", "--seed", "2", "--no-progress"]
    proc = subprocess.run(
        [sys.executable, "-m", "chaoskit", "run", "--runtime", "docker", *args],
        capture_output=True,
        text=True,
        timeout=400,
        cwd=tmp_path,
        env=env,
    )
    run_dir = (tmp_path / "runs" / "latest").resolve()
    config: dict[str, Any] = json.loads((run_dir / "config.json").read_text())
    faults = [json.loads(x) for x in (run_dir / "nemesis.jsonl").read_text().splitlines()]
    starts = [f for f in faults if f["type"] == "start"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert starts and all(len(f["down"]) == 2 for f in starts)
    assert all(set(f["detail"]["dropped"]) == set(f["down"]) for f in starts)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["checkers"]["lost-writes"]["valid"] is True
    run_id = config["run_id"]
    assert leftovers(run_id, client=None) == []
    assert registry.read(run_id) is None
    assert not [m for m in fault_mounts() if m.run_id == run_id]
    assert not (Path(os.environ.get("TMPDIR", "/tmp")) / "chaoskit-disk" / run_id).exists()
