"""``NodeDisks`` (the run's Disk) with the local runtime: real nodes on real mounts.

The "nodes" are writer processes (writer.py) started by ``LocalRuntime`` on their fault
file systems: a power loss goes through ``Runtime.signal`` (no waiting) and leaves
every victim down and reaped, with exactly its synced records; torn writes and
corruption change exactly what they say.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chaoskit.core.disk import Disk
from chaoskit.core.target import Launch, NodeInfo
from chaoskit.disk import DiskFaults
from chaoskit.disk.nodes import NodeDisks
from chaoskit.errors import SetupError
from chaoskit.runtimes.local import LocalRuntime
from tests.support.eventually import eventually

pytestmark = pytest.mark.integration

WRITER = Path(__file__).with_name("writer.py")


def _record(i: int) -> bytes:
    return f"record {i:06d}\n".encode()


def _node(i: int, root: Path) -> NodeInfo:
    return NodeInfo(f"n{i}", i, "127.0.0.1", {"api": 0}, root / f"n{i}")


def _wait_for(path: Path, text: str) -> None:
    """Until the node's log says ``text`` (the writer prints ``ready``)."""
    eventually(lambda: path.exists() and text in path.read_text(), f"{path} to say {text!r}")


@pytest.fixture
async def cluster(
    fuse: None, short_dir: Path
) -> AsyncIterator[tuple[NodeDisks, LocalRuntime, Path]]:
    logs = short_dir / "logs"
    logs.mkdir()
    faults = DiskFaults(short_dir.name.replace("-", "_"), root=short_dir / "disk")
    runtime = LocalRuntime(faults.run_id, logs)
    disks = NodeDisks(faults, runtime, torn_wait_s=0.3)
    yield disks, runtime, short_dir
    await runtime.close()
    faults.unmount_all()
    assert not faults.run_dir.exists()


async def _launch(
    disks: NodeDisks, runtime: LocalRuntime, root: Path, n: int, synced: int, unsynced: int
) -> list[NodeInfo]:
    nodes = [_node(i, root) for i in range(1, n + 1)]
    await disks.mount({node.id: node.data_dir for node in nodes})
    for node in nodes:
        argv = [sys.executable, str(WRITER), str(node.data_dir / "log"), str(synced), str(unsynced)]
        await runtime.launch(node, Launch(argv))
    for node in nodes:
        await asyncio.to_thread(_wait_for, root / "logs" / f"{node.id}.log", "ready")
    return nodes


async def test_node_disks_is_the_disk_contract(
    cluster: tuple[NodeDisks, LocalRuntime, Path],
) -> None:
    assert isinstance(cluster[0], Disk)


async def test_power_loss_of_two_nodes_at_once(
    cluster: tuple[NodeDisks, LocalRuntime, Path],
) -> None:
    disks, runtime, root = cluster

    nodes = await _launch(disks, runtime, root, 3, synced=4, unsynced=3)
    for node in nodes:
        assert (node.data_dir / "log").read_bytes() == b"".join(map(_record, range(7)))
    dropped = await disks.power_loss(["n1", "n3"])
    assert set(dropped) == {"n1", "n3"}
    assert all(d["dropped_files"] == 1 for d in dropped.values())
    assert not runtime.is_running("n1") and not runtime.is_running("n3")
    assert runtime.is_running("n2")
    for node, kept in (("n1", 4), ("n2", 7), ("n3", 4)):
        content = (root / node / "log").read_bytes()
        assert content == b"".join(map(_record, range(kept))), node
    await runtime.start("n1")  # the node restarts on its mount: the writer appends
    await asyncio.to_thread(_wait_for, root / "logs" / "n1.log", "ready\nready")


async def test_torn_write_keeps_part_of_the_last_unsynced_write(
    cluster: tuple[NodeDisks, LocalRuntime, Path],
) -> None:
    disks, runtime, root = cluster

    await _launch(disks, runtime, root, 1, synced=2, unsynced=3)
    result = await disks.torn_write("n1", random.Random(3))
    torn = result["torn"]
    assert torn["path"] == "log" and torn["length"] == len(_record(4))
    assert 1 <= torn["kept"] < torn["length"]
    assert not runtime.is_running("n1")
    content = (root / "n1" / "log").read_bytes()
    whole = b"".join(map(_record, range(4)))
    assert content == whole + _record(4)[: torn["kept"]]


async def test_torn_write_without_an_unsynced_write_is_a_plain_power_loss(
    cluster: tuple[NodeDisks, LocalRuntime, Path],
) -> None:
    disks, runtime, root = cluster

    await _launch(disks, runtime, root, 1, synced=3, unsynced=0)
    result = await disks.torn_write("n1", random.Random(1))
    assert result["torn"] is None and "no unsynced write" in result["why"]
    assert not runtime.is_running("n1")
    assert (root / "n1" / "log").read_bytes() == b"".join(map(_record, range(3)))


async def test_corrupt_refuses_a_running_node_and_damages_a_stopped_one(
    cluster: tuple[NodeDisks, LocalRuntime, Path],
) -> None:
    disks, runtime, root = cluster

    await _launch(disks, runtime, root, 1, synced=5, unsynced=2)
    with pytest.raises(SetupError, match="it is running"):
        await disks.corrupt("n1", random.Random(1))
    await runtime.kill("n1")  # a kill: the unsynced records are written back
    before = (root / "n1" / "log").read_bytes()
    assert before == b"".join(map(_record, range(7)))
    result = await disks.corrupt("n1", random.Random(1), mode="bitflip", bits=2)
    after = (root / "n1" / "log").read_bytes()
    assert result["path"] == "log" and len(result["flips"]) == 2
    assert len(after) == len(before)
    differ = [i for i in range(len(after)) if after[i] != before[i]]
    assert differ == sorted(f["offset"] for f in result["flips"])


async def test_a_power_loss_together_freezes_all_before_it_kills_any(
    cluster: tuple[NodeDisks, LocalRuntime, Path],
) -> None:
    """What each kill sees of the others: every file system frozen, none dropped yet."""
    disks, runtime, root = cluster
    await _launch(disks, runtime, root, 3, synced=1, unsynced=1)
    faults = disks.faults
    seen: dict[str, list[tuple[bool, int]]] = {}

    def kill(node: str) -> None:
        seen[node] = [
            (faults.status(other)["frozen"], faults.status(other)["epoch"])
            for other in ("n1", "n2", "n3")
        ]

    await asyncio.to_thread(faults.power_loss_together, ["n1", "n2", "n3"], kill)
    assert seen == {n: [(True, 0)] * 3 for n in ("n1", "n2", "n3")}
    after = [faults.status(n) for n in ("n1", "n2", "n3")]
    assert [(s["frozen"], s["epoch"]) for s in after] == [(False, 1)] * 3


async def test_what_was_written_before_the_nodes_start_is_made_durable(
    cluster: tuple[NodeDisks, LocalRuntime, Path],
) -> None:
    """A target's config file, written at launch and never synced, survives a power loss
    once the run settled the disks (chaoskit/run/launch.py does before the first start)."""
    disks, runtime, root = cluster
    nodes = [_node(1, root), _node(2, root)]
    await disks.mount({node.id: node.data_dir for node in nodes})
    for node in nodes:
        (node.data_dir / "node.conf").write_text("port 1\n")
    await disks.sync_all()
    (root / "n2" / "after.conf").write_text("lost\n")  # after the settling: its data is lost
    for node in nodes:
        argv = [sys.executable, str(WRITER), str(node.data_dir / "log"), "1", "0"]
        await runtime.launch(node, Launch(argv))
        await asyncio.to_thread(_wait_for, root / "logs" / f"{node.id}.log", "ready")
    await disks.power_loss(["n1", "n2"])
    assert (root / "n1" / "node.conf").read_text() == "port 1\n"
    # The writer synced the directory (its new log): that made after.conf's name durable
    # too, never its content.
    assert sorted(p.name for p in (root / "n2").iterdir()) == ["after.conf", "log", "node.conf"]
    assert (root / "n2" / "after.conf").read_bytes() == b""
