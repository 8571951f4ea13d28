"""Host clock faults (opt-in): the steps asked of ``date -s`` and their guaranteed undo.

The test hosts are containers: they share this machine's kernel clock, so a real
``date -s`` in them would move the clock of the whole machine (and of every other
test on it). Here ``date`` on the host is a shim that records what it is asked to
set and passes everything else to the real ``date``: what is proven is what chaoskit
asks for (true time + offset, from the boot-clock record), the record's lifetime,
and the restore by ``cleanup`` after a crash; not the kernel's step itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.errors import ConfigError
from chaoskit.remote.cleanup import cleanup_hosts
from chaoskit.remote.runtime import SshRuntime

from .conftest import DATA_DIR, SshHosts, leftovers

pytestmark = [pytest.mark.docker, pytest.mark.integration]
SHIM = """#!/bin/sh
if [ "$1" = "-s" ]; then echo "$2" >> /tmp/date-set.log; exit 0; fi
exec /bin/date "$@"
"""


@pytest.fixture
def date_shim(ssh_hosts: SshHosts) -> Iterator[None]:
    host = ssh_hosts.hosts[0]
    code, out = ssh_hosts.exec(
        host,
        [
            "sh",
            "-c",
            f"cat > /usr/local/bin/date <<'EOF'\n{SHIM}EOF\n"
            "chmod 755 /usr/local/bin/date; rm -f /tmp/date-set.log",
        ],
    )
    assert code == 0, out
    yield
    ssh_hosts.exec(host, ["rm", "-f", "/usr/local/bin/date", "/tmp/date-set.log"])


def steps(hosts: SshHosts) -> list[float]:
    _, out = hosts.exec(hosts.hosts[0], ["sh", "-c", "cat /tmp/date-set.log 2>/dev/null; true"])
    return [float(line.lstrip("@")) for line in out.split()]


async def test_host_clock_steps_and_restores(
    ssh_hosts: SshHosts, date_shim: None, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(1, host_clock=True))
    try:
        await rt.setup(["n1"])
        clock = await rt.clock(host_clock=True)
        assert clock.env_for("n1") == {}  # nothing preloaded: the host's own clock moves
        clock.set("n1", offset_s=30.0)
        clock.set("n1", offset_s=-10.0)  # absolute offsets, not cumulative
        await clock.sync()
        first, second = steps(ssh_hosts)
        assert abs(first - (time.time() + 30)) < 3 and abs(second - (time.time() - 10)) < 3
        code, _ = ssh_hosts.exec(
            ssh_hosts.hosts[0], ["test", "-f", f"{DATA_DIR}/{run_id}/hostclock"]
        )
        assert code == 0
        with pytest.raises(ConfigError, match="not made to run at another rate"):
            clock.set("n1", rate=2.0)
        clock.reset()
        await clock.sync()
        assert abs(steps(ssh_hosts)[-1] - time.time()) < 3
        code, _ = ssh_hosts.exec(
            ssh_hosts.hosts[0], ["test", "-f", f"{DATA_DIR}/{run_id}/hostclock"]
        )
        assert code != 0  # restored: the record is gone

        # A crash while stepped: cleanup restores from the record on the host.
        clock.set("n1", offset_s=3600.0)
        await clock.sync()
        lines = await cleanup_hosts(ssh_hosts.inventory(1, host_clock=True), run_id)
        assert f"restored the clock of host h1 (run {run_id})" in lines
        assert abs(steps(ssh_hosts)[-1] - time.time()) < 3
    finally:
        await rt.close()


async def test_host_clock_needs_the_inventorys_consent(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(1))
    try:
        await rt.setup(["n1"])
        with pytest.raises(ConfigError, match=r"host_clock = true for host\(s\) h1"):
            await rt.clock(host_clock=True)
    finally:
        await rt.close()


@pytest.fixture
def date_shims(ssh_hosts: SshHosts) -> Iterator[None]:
    """The ``date`` shim on the first three hosts."""
    install = f"cat > /usr/local/bin/date <<'EOF'\n{SHIM}EOF\nchmod 755 /usr/local/bin/date"
    for host in ssh_hosts.hosts[:3]:
        code, out = ssh_hosts.exec(host, ["sh", "-c", install + "; rm -f /tmp/date-set.log"])
        assert code == 0, out
    yield
    for host in ssh_hosts.hosts[:3]:
        ssh_hosts.exec(host, ["rm", "-f", "/usr/local/bin/date", "/tmp/date-set.log"])


def test_run_with_host_clock_steps_the_hosts_and_restores_them(
    ssh_hosts: SshHosts, date_shims: None, tmp_path: Path
) -> None:
    """``chaoskit run --host-clock``: clock-bump steps the victims' hosts (through the
    shim), every stepped host is set back to true time at the end, nothing is left;
    without the inventory's consent the run is one line and exit 2."""
    from .runs import Runs

    runs = Runs(tmp_path, tmp_path / "state")
    refused = runs.run(
        "refused", "--runtime", "ssh", "--inventory", str(ssh_hosts.inventory_file(3)),
        "--nodes", "3", "--nemesis", "clock-bump", "--host-clock", "--time-limit", "5",
    )  # fmt: skip
    assert refused.exit == 2 and "host_clock = true for host(s) h1, h2, h3" in refused.stderr

    inventory = ssh_hosts.inventory_file(3, host_clock=True)
    before = time.time()
    done = runs.run(
        "stepped", "--runtime", "ssh", "--inventory", str(inventory), "--nodes", "3",
        "--nemesis", "clock-bump:count=all", "--host-clock", "--time-limit", "8", "--seed", "2",
        "--fault-seconds", "3", "--heal-seconds", "2",
    )  # fmt: skip
    assert done.exit in (0, 1), done.describe()
    assert "--host-clock" in done.config()["command"]
    after = time.time()
    (start, *_) = [r for r in done.nemesis_log() if r["type"] == "start"]
    for index, host in enumerate(ssh_hosts.hosts[:3]):
        _, out = ssh_hosts.exec(host, ["sh", "-c", "cat /tmp/date-set.log 2>/dev/null; true"])
        asked = [float(line.lstrip("@")) for line in out.split()]
        offset = start["detail"]["clocks"][f"n{index + 1}"]["offset_s"]
        # The first step: true time (during the run) + this node's offset, to the second.
        assert before - 1 <= asked[0] - offset <= after + 1, (asked, offset)
        assert before - 1 <= asked[-1] <= after + 1, asked  # set back to true time
    rid = done.config()["run_id"]
    assert leftovers(ssh_hosts, rid) == []
