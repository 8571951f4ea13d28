"""A controller killed with SIGKILL: what it leaves, and `chaoskit cleanup` removing it.

With the embedded proxy the proxy dies with the controller and the nodes are left
alone; with an external proxy (`chaoskit proxy` in its own process) the proxies of
the run stay behind, disabled by the partition that was active. Both are found again
(processes through /proc, the rest through the registry of active runs) and removed.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

from chaoskit.runtimes.local import find_leftovers
from tests.support.eventually import eventually

from .conftest import ExternalProxy, Session, open_faults

pytestmark = pytest.mark.integration

RUN = (
    "run",
    "--nodes",
    "3",
    "--time-limit",
    "120",
    "--seed",
    "4",
    "--no-progress",
    "--workload",
    "register",
    "--fault-seconds",
    "60",
    "--heal-seconds",
    "1",
)


def _kill_during_partition(session: Session, proc: subprocess.Popen[str]) -> str:
    """Wait for a partition that has started and not stopped, then SIGKILL the controller."""

    def partitioned() -> bool:
        assert proc.poll() is None, proc.communicate()
        latest = session.cwd / "runs" / "latest"
        return latest.exists() and any(f["fault"] == "partition" for f in open_faults(latest))

    eventually(partitioned, "a partition to start")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    return str(session.config()["run_id"])


def test_cleanup_after_sigkill_during_partition_restores_external_proxy(
    session: Session, external_proxy: ExternalProxy
) -> None:
    proc = session.spawn(*RUN, "--nemesis", "partition", "--toxiproxy-url", external_proxy.url)
    run_id = _kill_during_partition(session, proc)
    prefix = f"ck-{run_id}-"

    # What the killed controller left: nodes, disabled proxies, a registry entry.
    ours = {n: p for n, p in external_proxy.proxies().items() if n.startswith(prefix)}
    assert len(ours) == 6  # a proxy per ordered pair of 3 nodes
    cut = open_faults(session.latest)[0]["cut"]
    assert cut
    for src, dst in cut:
        assert ours[f"{prefix}{src}-{dst}"]["enabled"] is False
    assert len(find_leftovers(run_id)) >= 3
    assert session.registry() == [run_id]

    # The next run warns about it (bad input stops this one before it starts anything).
    warned = session.cli("run", "--nodes", "0")
    assert warned.returncode == 2
    assert run_id in warned.stderr and "chaoskit cleanup" in warned.stderr

    res = session.cli("cleanup", "--run-id", run_id)
    assert res.returncode == 0, res.stderr
    assert f"deleted proxy {prefix}" in res.stdout
    assert f"of run {run_id}" in res.stdout
    assert "abandoned" in res.stdout
    assert not [n for n in external_proxy.proxies() if n.startswith(prefix)]
    assert find_leftovers(run_id) == {}
    assert session.registry() == []

    check = session.cli("check", str(session.latest))
    assert check.returncode == 2, check.stdout + check.stderr
    assert "incomplete" in check.stdout
    assert "Traceback" not in check.stderr

    again = session.cli("cleanup", "--run-id", run_id)
    assert "nothing left behind" in again.stdout


def test_sigkill_with_embedded_proxy_leaves_nodes_that_cleanup_kills(session: Session) -> None:
    proc = session.spawn(*RUN, "--nemesis", "partition")
    run_id = _kill_during_partition(session, proc)
    nodes = find_leftovers(run_id)
    assert len(nodes) >= 3
    ports = [int(a.rsplit(":", 1)[1]) for a in session.config()["node_addresses"].values()]

    warned = session.cli("run", "--nodes", "0")
    assert run_id in warned.stderr

    # Without --run-id only runs whose controller is gone are touched: this one is.
    res = session.cli("cleanup")
    assert res.returncode == 0, res.stderr
    for pid in nodes:
        assert f"killed process {pid} of run {run_id}" in res.stdout
    assert find_leftovers(run_id) == {}
    assert session.registry() == []
    from .conftest import port_listening

    assert not [p for p in ports if port_listening(p)]
    assert session.cli("run", "--nodes", "0").stderr.count("warning") == 0

    check = session.cli("check", str(session.latest))
    assert check.returncode == 2
    assert "incomplete" in check.stdout


def test_cleanup_without_run_id_spares_a_run_in_progress(session: Session) -> None:
    proc = session.spawn(*RUN, "--nemesis", "none")
    latest = session.cwd / "runs" / "latest"
    eventually(
        lambda: (
            # The streams are opened before config.json is first written: wait for both.
            (latest / "config.json").exists()
            and (latest / "observations.jsonl").exists()
            and len(find_leftovers(session.config()["run_id"])) >= 3
        ),
        "the nodes to start",
    )
    run_id = session.config()["run_id"]
    before = find_leftovers(run_id)
    res = session.cli("cleanup")
    assert res.returncode == 0
    assert run_id not in res.stdout
    assert find_leftovers(run_id) == before
    assert session.registry() == [run_id]
    warned = session.cli("run", "--nodes", "0")
    assert run_id not in warned.stderr  # a run in progress is not a leftover
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert find_leftovers(run_id) == {}
    assert session.registry() == []
