"""SshIptablesNetwork on real hosts: directed cuts of TCP and UDP, healing, loss, no
netem, and rules of another run left alone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from chaoskit.core.target import Launch
from chaoskit.errors import SetupError
from chaoskit.remote.cleanup import cleanup_hosts
from chaoskit.remote.network import SshIptablesNetwork
from chaoskit.remote.runtime import SshRuntime

from .conftest import SshHosts, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.integration]

#: HTTP on TCP 8000 and an echo on UDP 8000.
SERVER = Launch(
    [
        "python3",
        "-c",
        "import socket, threading, http.server\n"
        "u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "u.bind(('0.0.0.0', 8000))\n"
        "def echo():\n"
        "    while True:\n"
        "        data, addr = u.recvfrom(100)\n"
        "        u.sendto(data, addr)\n"
        "threading.Thread(target=echo, daemon=True).start()\n"
        "http.server.ThreadingHTTPServer(('0.0.0.0', 8000),"
        " http.server.SimpleHTTPRequestHandler).serve_forever()\n",
    ]
)
PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], 8000), timeout=1.5).close()
    tcp = "connected"
except ConnectionRefusedError:
    tcp = "refused"
except OSError:
    tcp = "timeout"
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(1.5)
u.sendto(b"ping", (sys.argv[1], 8000))
try:
    udp = "udp-ok" if u.recvfrom(100)[0] == b"ping" else "udp-bad"
except OSError:
    udp = "udp-timeout"
print(tcp, udp)
"""


def dial(hosts: SshHosts, src: int, dst: int) -> str:
    """What host ``src`` sees when it opens TCP and UDP to host ``dst``'s port 8000."""
    code, out = hosts.exec(hosts.hosts[src], ["python3", "-c", PROBE, hosts.hosts[dst].ip])
    assert code == 0, out
    return out.strip()


async def reaches(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as http:
            return (await http.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


def rules_of(hosts: SshHosts, index: int, run_id: str) -> list[str]:
    _, out = hosts.exec(hosts.hosts[index], ["iptables", "-S", "INPUT"])
    return [line for line in out.splitlines() if f"chaoskit:{run_id}:" in line]


async def start(hosts: SshHosts, run_id: str, tmp_path: Path, count: int) -> SshRuntime:
    rt = SshRuntime(run_id, tmp_path, hosts.inventory(count))
    for p in await rt.setup([f"n{i + 1}" for i in range(count)]):
        await rt.launch(p.outside, SERVER)
    for p in rt.placements():
        await wait_for(lambda p=p: reaches(p.outside.url), what=f"{p.id} serving")
    return rt


async def test_cut_is_directed_for_tcp_and_udp_and_heals(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = await start(ssh_hosts, run_id, tmp_path, 3)
    net = rt.network()
    try:
        await net.setup()
        assert dial(ssh_hosts, 0, 1) == "connected udp-ok"
        await net.cut([("n1", "n2")])
        assert net.faulty_links() == [("n1", "n2")]
        # n1's packets are refused (TCP reset) or dropped (UDP); n2 -> n1 still works,
        # replies included, and so does n3 -> n2; the controller's path is never cut.
        assert dial(ssh_hosts, 0, 1) == "refused udp-timeout"
        assert dial(ssh_hosts, 1, 0) == "connected udp-ok"
        assert dial(ssh_hosts, 2, 1) == "connected udp-ok"
        assert await reaches(rt.placement("n2").outside.url)
        (rule,) = [r for r in rules_of(ssh_hosts, 1, run_id) if "tcp-reset" in r]
        assert (
            f'--comment "chaoskit:{run_id}:n1:n2:cut"' in rule
            or f"chaoskit:{run_id}:n1:n2:cut" in rule
        )

        await net.cut([("n1", "n2")], mode="hang")
        assert dial(ssh_hosts, 0, 1) == "timeout udp-timeout"
        await net.heal([("n1", "n2")])
        assert dial(ssh_hosts, 0, 1) == "connected udp-ok"
        assert rules_of(ssh_hosts, 1, run_id) == []

        # A restarted node stays cut: the rules live in the host, not in the node.
        await net.cut([("n3", "n1")])
        await rt.kill("n1")
        await rt.start("n1")
        await wait_for(lambda: reaches(rt.placement("n1").outside.url), what="n1 back")
        assert dial(ssh_hosts, 2, 0) == "refused udp-timeout"

        await net.loss([("n2", "n3")], 1.0)
        assert dial(ssh_hosts, 1, 2) == "timeout udp-timeout"
        await net.heal_all()
        assert net.faulty_links() == []
        assert dial(ssh_hosts, 1, 2) == "connected udp-ok"
        assert dial(ssh_hosts, 2, 0) == "connected udp-ok"
    finally:
        await net.close()
        assert not rt.pool.closed  # the runtime still uses the connections
        await rt.close()
    assert rt.pool.closed  # the last user let go


async def test_latency_without_netem_is_a_clear_error(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(2))
    await rt.setup(["n1", "n2"])
    net = rt.network()
    try:
        with pytest.raises(SetupError, match=r"^host h1: the kernel has no netem \(sch_netem\)"):
            await net.delay([("n1", "n2")], 100, 10)
        await net.undelay()
        assert net.faulty_links() == []
    finally:
        await net.close()
        await rt.close()


async def test_rules_of_another_run_are_left_alone(
    ssh_hosts: SshHosts, run_id: str, tmp_path: Path
) -> None:
    rt = SshRuntime(run_id, tmp_path, ssh_hosts.inventory(2))
    await rt.setup(["n1", "n2"])
    mine = rt.network()
    other_id = f"{run_id}x"
    other = SshIptablesNetwork(
        rt.pool.acquire(),
        other_id,
        {"n1": "h1", "n2": "h2"},
        rt.sources(),
        {"h1": rt.paths("h1"), "h2": rt.paths("h2")},
    )
    try:
        await mine.cut([("n1", "n2"), ("n2", "n1")])
        await other.cut([("n1", "n2")], mode="hang")
        assert len(rules_of(ssh_hosts, 1, other_id)) == 1
        await mine.close()  # removes every rule marked with its run, and only those
        assert rules_of(ssh_hosts, 0, run_id) == rules_of(ssh_hosts, 1, run_id) == []
        assert len(rules_of(ssh_hosts, 1, other_id)) == 1
        # "tXXXXXXXx" starts with run_id: a prefix is not a match.
        lines = await cleanup_hosts(ssh_hosts.inventory(2), run_id)
        assert len(rules_of(ssh_hosts, 1, other_id)) == 1
        assert not any("rule" in line for line in lines)
        lines = await cleanup_hosts(ssh_hosts.inventory(2), other_id)
        assert lines == [f"removed iptables rule of run {other_id} on host h2"]
        assert rules_of(ssh_hosts, 1, other_id) == []
    finally:
        await other.close()
        await rt.close()
