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

from .conftest import DATA_DIR, SshHosts

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
