"""Pure parts of the ssh runtime: rule shapes and marks, listing parser, command quoting,
netem scripts; and (integration: a real local ``sh``) the start script and the clock
writer's loop."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.errors import ConfigError, SetupError
from chaoskit.remote import iptables
from chaoskit.remote.clock import writer_script
from chaoskit.remote.inventory import Host
from chaoskit.remote.processes import RunPaths, check_run_id, start_script
from chaoskit.remote.runtime import host_argv
from chaoskit.remote.ssh import Result, command_error, remote_command

HOST = Host(name="db1", address="10.0.0.1", user="chaos", sudo=True, python="/opt/py")


def test_rules_carry_the_run_mark_before_the_target() -> None:
    mark = iptables.comment("r1", "n1", "n2", "cut")
    assert mark == "chaoskit:r1:n1:n2:cut"
    rules = iptables.marked_rules("10.0.0.1", "cut", mark)
    assert rules == [
        ["-s", "10.0.0.1", "-m", "conntrack", "--ctdir", "ORIGINAL", "-p", "tcp",
         "-m", "comment", "--comment", mark, "-j", "REJECT", "--reject-with", "tcp-reset"],
        ["-s", "10.0.0.1", "-m", "conntrack", "--ctdir", "ORIGINAL",
         "-m", "comment", "--comment", mark, "-j", "DROP"],
    ]  # fmt: skip
    (loss,) = iptables.marked_rules("10.0.0.1", "loss:0.25", "chaoskit:r1:n1:n2:loss")
    assert loss[loss.index("--probability") + 1] == "0.25" and loss[-1] == "DROP"
    assert iptables.kind_of("loss:0.25") == "loss"
    with pytest.raises(ConfigError):
        iptables.comment("r 1", "n1", "n2", "cut")


def test_listing_finds_exactly_the_marked_rules() -> None:
    listing = "\n".join(
        [
            "-P INPUT ACCEPT",
            "-N ufw-before-input",
            "-A INPUT -s 10.0.0.2/32 -m conntrack --ctdir ORIGINAL"
            ' -m comment --comment "chaoskit:r1:n2:n1:cut" -j DROP',
            "-A INPUT -s 10.0.0.3/32 -m comment --comment chaoskit:r10:n3:n1:hang -j DROP",
            '-A INPUT -m comment --comment "my own rule" -j ACCEPT',
            "-A INPUT -j ufw-before-input",
            '-A INPUT -m comment --comment "chaoskit:" -j DROP',
        ]
    )
    found = iptables.parse_listing(listing)
    assert [(r.run_id, r.binary) for r in found] == [("r1", "iptables"), ("r10", "iptables")]
    assert found[0].delete() == [
        "iptables", "-w", "5", "-D", "INPUT", "-s", "10.0.0.2/32", "-m", "conntrack", "--ctdir",
        "ORIGINAL", "-m", "comment", "--comment", "chaoskit:r1:n2:n1:cut", "-j", "DROP",
    ]  # fmt: skip
    assert iptables.binary_for("fd00::1") == "ip6tables"
    with pytest.raises(ConfigError):
        iptables.binary_for("db1.example")


def test_netem_script_has_one_setting_per_host() -> None:
    script = iptables.netem_script("eth0", {"10.0.0.2": (100, 10), "fd00::3": (100, 10)})
    assert "netem delay 100ms 10ms" in script
    assert "match ip dst 10.0.0.2/32 flowid 1:4" in script
    assert "protocol ipv6 prio 1 u32 match ip6 dst fd00::3/128 flowid 1:4" in script
    with pytest.raises(ConfigError, match="one latency and jitter"):
        iptables.netem_script("eth0", {"10.0.0.2": (100, 10), "10.0.0.3": (50, 10)})


def test_remote_commands_are_quoted_and_sudo_only_when_needed() -> None:
    assert remote_command(HOST, ["echo", "a b", "$X"]) == "echo 'a b' '$X'"
    assert remote_command(HOST, ["iptables", "-S"], sudo=True) == "sudo -n -- iptables -S"
    root = Host(name="r", address="x", user="root", sudo=True)
    assert remote_command(root, ["iptables", "-S"], sudo=True) == "iptables -S"
    with pytest.raises(SetupError):
        remote_command(HOST, [])
    missing = command_error(HOST, ["foo"], Result(127, "", "sh: 1: foo: not found\n"), sudo=False)
    assert str(missing) == "host db1: command 'foo' not found on the host"
    pw = Result(1, "", "sudo: a password is required\n")
    assert "asks chaos for a password" in str(command_error(HOST, ["iptables"], pw, sudo=True))


def test_python_argv_becomes_the_hosts_interpreter() -> None:
    assert host_argv([sys.executable, "-m", "chaoskit.targets.raft"], HOST) == [
        "/opt/py",
        "-m",
        "chaoskit.targets.raft",
    ]
    assert host_argv(["python3", "-c", "x"], HOST) == ["/opt/py", "-c", "x"]
    assert host_argv(["etcd", "--name", "n1"], HOST) == ["etcd", "--name", "n1"]


def test_run_ids_and_paths_stay_plain() -> None:
    paths = RunPaths("/var/tmp/chaoskit", "abc")
    assert paths.node_dir("n1") == "/var/tmp/chaoskit/abc/nodes/n1"
    assert paths.log("n1") == "/var/tmp/chaoskit/abc/logs/n1.log"
    for bad in ("", "../x", "a b", "a/b", ".hidden"):
        with pytest.raises(ConfigError):
            check_run_id(bad)


@pytest.mark.integration
def test_start_script_runs_argv_verbatim_detached(tmp_path: Path) -> None:
    """The script under a real ``sh``: the child gets argv and env untouched, leads its own
    session, and the script reports its pid and, after it ends, its exit status."""
    probe = (
        "import json, os, sys; "
        "print(json.dumps([sys.argv[1:], os.environ['WEIRD'], os.getsid(0) == os.getpid()]))"
    )
    argv = [sys.executable, "-c", probe, "a b", "$HOME", "it's", "`x`"]
    script = start_script(
        argv,
        {"WEIRD": "v a'l\"ue $X"},
        str(tmp_path / "node dir"),
        str(tmp_path / "log"),
        str(tmp_path / "pid"),
    )
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    started, exited = done.stdout.splitlines()
    assert started == f"started {(tmp_path / 'pid').read_text().strip()}"
    assert exited == "exited 0"
    assert json.loads((tmp_path / "log").read_text()) == [
        ["a b", "$HOME", "it's", "`x`"], "v a'l\"ue $X", True,
    ]  # fmt: skip
    with pytest.raises(ConfigError, match="cannot be passed"):
        start_script(["x"], {"A-B": "1"}, "/d", "/l", "/p")


@pytest.mark.integration
def test_start_script_reports_a_missing_command(tmp_path: Path) -> None:
    script = start_script(
        ["no-such-binary"], {}, str(tmp_path), str(tmp_path / "log"), str(tmp_path / "pid")
    )
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 127
    assert done.stderr.strip() == "chaoskit: command not found: no-such-binary"


@pytest.mark.integration
def test_clock_writer_loop_rewrites_files_in_order(tmp_path: Path) -> None:
    """The writer under a real ``sh``: each line replaces one file, one ack per line."""
    script = writer_script(str(tmp_path), str(tmp_path / "hostclock"), sudo=False)
    lines = "F n1 +10.000000 x1\nF n2 @1000.000000 x0.500000\nF n1 +0.000000 x1\nZ\n"
    done = subprocess.run(
        ["sh", "-c", script], input=lines, capture_output=True, text=True, timeout=30
    )
    assert done.stdout.split() == ["ok", "ok", "ok", "fail"]
    assert (tmp_path / "n1.faketime").read_text() == "+0.000000 x1\n"
    assert (tmp_path / "n2.faketime").read_text() == "@1000.000000 x0.500000\n"
