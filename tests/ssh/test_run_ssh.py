"""The exit criterion of the ssh runtime: the reference Raft spread over SSH hosts gives
the same verdicts as on local processes.

Each test runs ``chaoskit run`` twice with one seed, on the local runtime and with
``--runtime ssh --inventory F`` over the session's SSH host containers, and compares
every checker's verdict. Nodes on hosts are reached through SSH tunnels in some tests
and directly in others (both ways the controller can reach a node). Every remote run
must leave nothing of itself on any host (the ``run_id`` check of conftest.py).

Lean for CI: 12 s runs, one seed per nemesis.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import SshHosts, leftovers
from .runs import Done, Runs

pytestmark = [pytest.mark.docker, pytest.mark.integration, pytest.mark.timeout(600)]

TIME_LIMIT = "12"
SEED = "3"


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Runs]:
    found = Runs(tmp_path, tmp_path / "state")
    yield found
    found.close()


def both(runs: Runs, inventory: Path, *args: str) -> tuple[Done, Done]:
    """The same run on local processes and on the SSH hosts."""
    common = ["--time-limit", TIME_LIMIT, "--seed", SEED, "--nodes", "5", *args]
    local = runs.run("local", *common)
    remote = runs.run("remote", "--runtime", "ssh", "--inventory", str(inventory), *common)
    return local, remote


def check_clean(hosts: SshHosts, runs: Runs, remote: Done) -> None:
    """Nothing of the remote run on any host, and it left the registry."""
    rid = remote.config()["run_id"]
    assert leftovers(hosts, rid) == [], f"run {rid} left things on the hosts"
    assert runs.registry() == []


def faults(done: Done) -> list[dict[str, Any]]:
    return [r for r in done.nemesis_log() if r["type"] == "start"]


@pytest.mark.parametrize(
    ("nemesis", "tunnel"),
    [
        ("partition", True),
        ("kill", False),
        ("pause", False),
        ("clock-skew-leader:offset_s=-5", True),
    ],
)
def test_remote_run_gives_the_local_verdict(
    ssh_hosts: SshHosts, runs: Runs, nemesis: str, tunnel: bool
) -> None:
    inventory = ssh_hosts.inventory_file(5, tunnel=tunnel)
    local, remote = both(runs, inventory, "--nemesis", nemesis)
    assert local.exit in (0, 1), local.describe()
    assert remote.exit in (0, 1), remote.describe()
    assert remote.verdicts() == local.verdicts(), (
        f"local {local.anomalies()}, remote {remote.anomalies()}\n{remote.describe()}"
    )
    assert remote.exit == local.exit
    # The remote run really ran its faults on the hosts, and reached its nodes.
    assert faults(remote), remote.nemesis_log()
    config = remote.config()
    assert config["runtime"] == "ssh" and config["inventory"] == str(inventory)
    assert f"--inventory {inventory}" in config["command"]
    hosts = {h.ip for h in ssh_hosts.hosts}
    addresses = {a.rpartition(":")[0] for a in config["node_addresses"].values()}
    assert addresses == ({"127.0.0.1"} if tunnel else hosts)
    assert sorted(p.name for p in (remote.run_dir / "logs").glob("n*.log")) == [  # type: ignore[operator]
        f"n{i}.log" for i in range(1, 6)
    ]
    check_clean(ssh_hosts, runs, remote)


def test_a_planted_bug_is_found_remotely_as_locally(ssh_hosts: SshHosts, runs: Runs) -> None:
    """``no-step-down`` under ``isolate-leader``: the deposed leader keeps leading, a
    stale leader after the heal (docs/detection.md: 5/5 locally)."""
    inventory = ssh_hosts.inventory_file(5)
    args = ["-o", "bug=no-step-down", "--nemesis", "isolate-leader", "--workload", "none"]
    local, remote = both(runs, inventory, *args)
    assert local.exit == 1, local.describe()
    assert remote.exit == 1, remote.describe()
    assert "split-brain: stale-leader" in remote.anomalies(), remote.anomalies()
    assert remote.verdicts() == local.verdicts()
    check_clean(ssh_hosts, runs, remote)
