"""The SSH pool against real sshd hosts: reuse, time-outs and one-line errors."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from chaoskit.errors import SetupError
from chaoskit.remote.inventory import load_inventory
from chaoskit.remote.ssh import SshPool, asyncssh, shell

from .conftest import SshHosts

pytestmark = [pytest.mark.docker, pytest.mark.integration]
#: A user with a key but no sudo rights: sudo asks it for a password.
ADD_USER = (
    "useradd -m pw && usermod -p '*' pw && mkdir -p /home/pw/.ssh && "
    "cp /root/.ssh/authorized_keys /home/pw/.ssh/ && chown -R pw /home/pw/.ssh"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_commands_reuse_one_connection_per_host(ssh_hosts: SshHosts) -> None:
    pool = SshPool(ssh_hosts.inventory(2).hosts)
    try:
        first = await pool.connect("h1")
        out = await pool.run("h1", ["sh", "-c", 'printf "%s|" "$@"', "x", "a b", "$HOME", "it's"])
        assert out.stdout == "a b|$HOME|it's|"  # argv survives the remote shell untouched
        assert await pool.connect("h1") is first
        hostname = await pool.run("h2", ["hostname"])
        assert hostname.stdout.strip() == "h2"
    finally:
        await pool.close()


async def test_unreachable_host_is_one_line(ssh_hosts: SshHosts, tmp_path: Path) -> None:
    path = ssh_hosts.inventory_file(1, connect_timeout=5)
    text = path.read_text().replace(
        f"port = {ssh_hosts.hosts[0].ssh_port}", f"port = {free_port()}"
    )
    path.write_text(text)
    pool = SshPool(load_inventory(path).hosts)
    with pytest.raises(SetupError, match=r"^host h1: root@127\.0\.0\.1:\d+ unreachable: ") as err:
        await pool.run("h1", ["true"])
    assert "\n" not in str(err.value)
    await pool.close()


async def test_refused_key_is_one_line(ssh_hosts: SshHosts, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(str(other))
    other.chmod(0o600)
    pool = SshPool(ssh_hosts.inventory(1, key_file=str(other)).hosts)
    with pytest.raises(SetupError, match=r"^host h1: root@127\.0\.0\.1:\d+ refused the key \("):
        await pool.run("h1", ["true"])
    await pool.close()


async def test_unusable_key_file_is_one_line(ssh_hosts: SshHosts, tmp_path: Path) -> None:
    locked = tmp_path / "locked_key"
    asyncssh.generate_private_key("ssh-ed25519").write_private_key(
        str(locked), format_name="pkcs8-pem", passphrase="pw"
    )
    garbage = tmp_path / "garbage_key"
    garbage.write_text("not a key\n")
    for key in (locked, garbage):
        pool = SshPool(ssh_hosts.inventory(1, key_file=str(key)).hosts)
        with pytest.raises(SetupError, match=rf"^host h1: cannot use key_file {key}: ") as err:
            await pool.run("h1", ["true"])
        assert "\n" not in str(err.value)
        await pool.close()


async def test_unknown_host_key_is_refused_unless_opted_out(
    ssh_hosts: SshHosts, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    strict = SshPool(ssh_hosts.inventory(1, known_hosts=str(empty)).hosts)
    with pytest.raises(SetupError, match=r"host key of 127\.0\.0\.1:\d+ is not in .*known_hosts"):
        await strict.run("h1", ["true"])
    await strict.close()
    path = ssh_hosts.inventory_file(1)
    path.write_text(
        path.read_text().replace(
            f'known_hosts = "{ssh_hosts.known_hosts}"', "strict_host_keys = false"
        )
    )
    relaxed = SshPool(load_inventory(path).hosts)
    assert (await relaxed.run("h1", ["echo", "in"])).stdout == "in\n"
    await relaxed.close()


async def test_missing_command_and_failures_are_one_line(ssh_hosts: SshHosts) -> None:
    pool = SshPool(ssh_hosts.inventory(1).hosts)
    try:
        with pytest.raises(
            SetupError, match=r"^host h1: command 'no-such-tool' not found on the host$"
        ):
            await pool.require("h1", ["iptables", "no-such-tool"], sudo=True)
        with pytest.raises(
            SetupError, match=r"^host h1: command 'no-such-tool' not found on the host$"
        ):
            await pool.run("h1", ["no-such-tool", "--flag"])
        with pytest.raises(SetupError, match=r"^host h1: `ls /nonexistent` failed: .*No such file"):
            await pool.run("h1", ["ls", "/nonexistent"])
        with pytest.raises(SetupError, match=r"^host h1: `sleep 5` timed out after 0\.5 s$"):
            await pool.run("h1", ["sleep", "5"], timeout=0.5)
        # The connection survives a timed-out command.
        assert (await pool.run("h1", shell("echo ok"))).stdout == "ok\n"
    finally:
        await pool.close()


async def test_sudo_user_runs_privileged_commands(ssh_hosts: SshHosts) -> None:
    pool = SshPool(ssh_hosts.inventory(1, user="chaos", sudo=True).hosts)
    try:
        assert (await pool.run("h1", ["id", "-un"])).stdout.strip() == "chaos"
        assert (await pool.run("h1", ["id", "-un"], sudo=True)).stdout.strip() == "root"
        await pool.require("h1", ["iptables"], sudo=True)
        listing = await pool.run("h1", ["iptables", "-w", "5", "-S"], sudo=True)
        assert "-P INPUT" in listing.stdout
    finally:
        await pool.close()


async def test_sudo_that_wants_a_password_says_so(ssh_hosts: SshHosts) -> None:
    host = ssh_hosts.hosts[0]
    code, out = ssh_hosts.exec(
        host,
        ["sh", "-c", ADD_USER],
    )
    assert code == 0, out
    try:
        pool = SshPool(ssh_hosts.inventory(1, user="pw", sudo=True).hosts)
        with pytest.raises(SetupError, match=r"^host h1: sudo asks pw for a password"):
            await pool.run("h1", ["iptables", "-S"], sudo=True)
        await pool.close()
    finally:
        ssh_hosts.exec(host, ["userdel", "-r", "pw"])
