"""An interrupted remote run: ``chaoskit run --runtime ssh`` interrupted in the middle of
a partition and a clock fault, by Ctrl-C (its own teardown cleans) or by SIGKILL (then
``chaoskit cleanup``): no rule, process, file or libfaketime leftover of the run on any
host, and the run leaves the registry.

After a SIGKILL, cleanup finds the hosts either through the inventory the run
registered (``chaoskit cleanup --run-id``) or through ``--inventory FILE``.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import pytest

from .conftest import SshHosts, leftovers
from .runs import REPO, Runs

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[Runs]:
    found = Runs(tmp_path, tmp_path / "state")
    yield found
    found.close()


def wait(check: object, timeout: float, what: str) -> None:
    """Poll ``check()`` until it is true; generous time-outs, the machine is shared."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.3)


def start_faulted(hosts: SshHosts, runs: Runs, inventory: Path) -> tuple[Popen[str], str]:
    """A remote run in the middle of a long partition and clock fault: rules, node
    processes, clock files and run directories on three hosts."""
    proc = runs.spawn(
        "remote",
        *("--runtime", "ssh", "--inventory", str(inventory), "--nodes", "3"),
        *("--nemesis", "partition&clock-bump", "--seed", "5", "--time-limit", "300"),
        *("--heal-seconds", "2", "--fault-seconds", "200"),
    )
    run_id: list[str] = []

    def started() -> bool:
        latest = runs.latest("remote")
        if latest is None or proc.poll() is not None:
            return proc.poll() is not None
        config = json.loads((latest / "config.json").read_text())
        run_id[:] = [config["run_id"]]
        return True

    wait(started, 60, "the run to start")
    assert proc.poll() is None, proc.communicate()
    rid = run_id[0]

    def faulted() -> bool:  # only the rules, on the run's hosts: one exec each
        assert proc.poll() is None, proc.communicate()
        return any(rid in hosts.exec(h, ["iptables", "-S"])[1] for h in hosts.hosts[:3])

    wait(faulted, 120, "the partition's rules on the hosts")
    return proc, rid


@pytest.mark.docker
def test_an_interrupted_remote_run_heals_and_stops_everything(
    ssh_hosts: SshHosts, runs: Runs
) -> None:
    """Ctrl-C (SIGINT): the run's own teardown removes everything from the hosts."""
    proc, rid = start_faulted(ssh_hosts, runs, ssh_hosts.inventory_file(3))
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 2, out + err
    assert "run interrupted" in err, err
    assert leftovers(ssh_hosts, rid) == []
    assert runs.registry() == []
    logs = runs.latest("remote") / "logs"  # type: ignore[operator]
    assert sorted(p.name for p in logs.glob("n*.log")) == ["n1.log", "n2.log", "n3.log"]


@pytest.mark.docker
@pytest.mark.parametrize("how", ["registry", "inventory"])
def test_a_killed_remote_run_is_cleaned_from_the_hosts(
    ssh_hosts: SshHosts, runs: Runs, how: str
) -> None:
    """SIGKILL: nothing runs the teardown; ``chaoskit cleanup`` finds and removes all of it."""
    inventory = ssh_hosts.inventory_file(3, tunnel=how == "inventory")
    proc, rid = start_faulted(ssh_hosts, runs, inventory)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)

    left = leftovers(ssh_hosts, rid)
    assert sum(": process " in x for x in left) >= 3, left  # a node on each host
    assert sum(f"/var/tmp/chaoskit/{rid}" in x for x in left) == 3, left
    assert runs.registry() == [rid]

    # Scoped to the run (a bare `chaoskit cleanup` would also reap other tests' orphans on
    # this machine): the registry's entry names the hosts, or the inventory does.
    args = ["cleanup", "--inventory", str(inventory)] if how == "inventory" else ["cleanup"]
    args += ["--run-id", rid] if how == "registry" else []
    done = runs.cli(*args, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("removed iptables rule") for line in lines), lines
    assert sum(line.startswith(f"removed /var/tmp/chaoskit/{rid}") for line in lines) == 3, lines
    assert leftovers(ssh_hosts, rid) == []
    assert runs.registry() == []
    config = json.loads((runs.latest("remote") / "config.json").read_text())  # type: ignore[operator]
    assert config["abandoned"] is True and config["finished"] is False

    again = runs.cli(*args, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "nothing left behind" in again.stdout, again.stdout


def test_an_unreachable_host_is_one_line_for_run_and_cleanup(runs: Runs, tmp_path: Path) -> None:
    """Nothing listens at the host's SSH port: ``run`` and ``cleanup`` say so in one line
    and exit 2; the run is stored as not finished and leaves the registry."""
    from chaoskit.remote.ssh import asyncssh

    key = tmp_path / "key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(key))
    key.chmod(0o600)
    bad = tmp_path / "hosts.toml"
    bad.write_text(
        f'key_file = "{key}"\nstrict_host_keys = false\nconnect_timeout = 5\n'
        f'[[hosts]]\nname = "gone"\naddress = "127.0.0.1"\nport = {free_port()}\n'
    )
    done = runs.run("remote", "--runtime", "ssh", "--inventory", str(bad), "--nodes", "1")
    assert done.exit == 2, done.describe()
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "host gone: root@127.0.0.1:" in errors[0], done.stderr
    assert "unreachable" in errors[0] and "Traceback" not in done.stderr
    assert runs.registry() == []

    cleaned = runs.cli("cleanup", "--inventory", str(bad), timeout=120)
    assert cleaned.returncode == 2, cleaned.stdout + cleaned.stderr
    lines = cleaned.stdout.splitlines()
    assert any(line.startswith("could not clean host gone: host gone: ") for line in lines), lines
    assert "Traceback" not in cleaned.stderr


@pytest.mark.docker
def test_a_node_that_dies_at_start_is_one_line_with_its_last_words(
    ssh_hosts: SshHosts, runs: Runs, tmp_path: Path
) -> None:
    """A service that exits on its host at start-up: the run's one line quotes its last
    output line (copied back from the host), and nothing of the run is left there."""
    text = (REPO / "examples" / "raft.toml").read_text()
    start = text.index('argv = ["python3"')
    end = text.index("peer_argv")
    dying = 'argv = ["sh", "-c", "echo cannot bind {host}:{port} >&2; exit 3"]\n'
    spec = tmp_path / "dying.toml"
    spec.write_text(text[:start] + dying + text[end:])
    inventory = ssh_hosts.inventory_file(2)
    done = runs.run(
        "remote", "--runtime", "ssh", "--inventory", str(inventory), "--nodes", "2",
        "--target", str(spec), "--nemesis", "none",
    )  # fmt: skip
    assert done.exit == 2, done.describe()
    said = [f"exited at start-up: cannot bind {h.ip}:8000" in done.stderr for h in ssh_hosts.hosts]
    assert any(said[:2]), done.stderr
    rid = done.config()["run_id"]
    assert leftovers(ssh_hosts, rid) == []
    assert runs.registry() == []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
