"""The ssh runtime's settings and bookkeeping, without hosts: what a run accepts, where
its hosts come from, what the registry records, and how cleanup treats a registered
ssh run whose hosts can or cannot be cleaned."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chaoskit.errors import ConfigError
from chaoskit.remote.inventory import load_inventory, run_inventory
from chaoskit.run.config import RunConfig
from chaoskit.run.plan import plan_run
from chaoskit.run.record import _inventory_entry
from chaoskit.run.settings import config_from_cli, config_from_mapping, repeat_command
from chaoskit.runtimes import cleanup, registry
from chaoskit.runtimes.cleanup import cleanup_leftovers
from chaoskit.runtimes.registry import ActiveRun, process_token
from chaoskit.spec.loader import load_spec_target
from chaoskit.spec.schema import SpecError

REPO = Path(__file__).resolve().parents[2]
HOSTS = '[[hosts]]\nname = "a"\naddress = "10.1.1.1"\n'


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHAOSKIT_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state"


def spec(tmp_path: Path, ssh: str | None) -> Path:
    """examples/raft.toml, with ``ssh`` as its [ssh] table when given."""
    text = (REPO / "examples" / "raft.toml").read_text()
    if ssh is not None:
        text += "\n[ssh]\n" + ssh.replace("[[hosts]]", "[[ssh.hosts]]")
    path = tmp_path / ("with-ssh.toml" if ssh is not None else "plain.toml")
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"inventory": "h.toml"}, r"^--inventory needs --runtime ssh$"),
        ({"host_clock": True}, r"^--host-clock needs --runtime ssh$"),
        ({"runtime": "ssh"}, r"^--runtime ssh needs --inventory FILE \(or a target spec"),
        (
            {"runtime": "ssh", "inventory": "h.toml", "toxiproxy_url": "http://127.0.0.1:1"},
            r"^--runtime ssh faults links with iptables on the hosts",
        ),
    ],
)
def test_bad_combinations_are_one_line(values: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_mapping(values, where="here").validate()


def test_the_inventory_is_made_absolute_and_repeated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = config_from_cli({"runtime": "ssh", "inventory": "hosts.toml", "host_clock": True})
    config.validate()
    assert config.inventory == tmp_path / "hosts.toml"
    assert config.network == "iptables"  # what faults the links on hosts, always
    command = repeat_command(config)
    assert f"--runtime ssh --inventory {tmp_path / 'hosts.toml'} --host-clock" in command
    assert "--network iptables" in command


def test_a_spec_with_an_ssh_table_needs_no_inventory(tmp_path: Path) -> None:
    with_ssh = spec(tmp_path, HOSTS)
    RunConfig(target=str(with_ssh), runtime="ssh").validate()
    with pytest.raises(ConfigError, match="needs --inventory FILE"):
        RunConfig(target=str(spec(tmp_path, None)), runtime="ssh").validate()
    assert load_spec_target(with_ssh).name == "raft-spec"  # the loader allows [ssh]
    inventory = run_inventory(None, str(with_ssh))
    assert inventory.names == ["a"] and inventory.source == f"{with_ssh} [ssh]"
    with pytest.raises(ConfigError, match=r"plain\.toml: no \[ssh\] table"):
        run_inventory(None, str(spec(tmp_path, None)))
    with pytest.raises(ConfigError, match="needs --inventory"):
        run_inventory(None, "raft")


def test_a_spec_whose_ssh_is_no_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        (REPO / "examples" / "raft.toml")
        .read_text()
        .replace('name = "raft-spec"', 'name = "raft-spec"\nssh = "db1"')
    )
    with pytest.raises(SpecError, match="field 'ssh'"):
        load_spec_target(path)


def test_the_registry_entry_names_where_the_hosts_are(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.toml"
    by_file = RunConfig(runtime="ssh", inventory=inventory)
    assert _inventory_entry(by_file) == {"inventory": str(inventory), "inventory_table": None}
    with_ssh = spec(tmp_path, HOSTS)
    by_spec = RunConfig(target=str(with_ssh), runtime="ssh")
    assert _inventory_entry(by_spec) == {"inventory": str(with_ssh), "inventory_table": "ssh"}
    assert _inventory_entry(RunConfig()) == {}
    # and what cleanup reads back from it
    assert load_inventory(with_ssh, table="ssh").names == ["a"]


def _dead_token() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    token = process_token(proc.pid)
    proc.wait()
    return token


@pytest.mark.parametrize("cleaned", [True, False])
def test_a_registered_ssh_run_leaves_the_registry_once_its_hosts_are_clean(
    tmp_path: Path, cleaned: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not this machine's orphaned node processes: other runs' (this test names none).
    monkeypatch.setattr(cleanup, "kill_leftovers", lambda *args, **kwargs: {})
    monkeypatch.setattr(cleanup, "_clean_docker", lambda *args, **kwargs: [])
    rid = "sshdead01"
    registry.register(
        ActiveRun(
            run_id=rid,
            run_dir=str(tmp_path / "run"),
            controller=_dead_token(),
            runtime="ssh",
            inventory=str(tmp_path / "hosts.toml"),
        )
    )
    asked: list[str] = []

    def hosts(run: ActiveRun) -> tuple[list[str], bool]:
        asked.append(run.run_id)
        line = "removed it" if cleaned else "could not clean host a: unreachable"
        return [line], cleaned

    lines = cleanup_leftovers(None, remote=hosts)
    assert asked == [rid]
    assert registry.read(rid) is None if cleaned else registry.read(rid) is not None
    if not cleaned:
        assert f"run {rid} kept for a later cleanup of its hosts" in lines
    # Without a way to reach hosts, an ssh run is never forgotten by accident.
    if not cleaned:
        cleanup_leftovers(None)
        assert registry.read(rid) is not None


def test_hosts_and_targets_are_checked_when_the_run_is_planned(tmp_path: Path) -> None:
    """Before a run directory exists: a missing inventory, a target with several peer
    ports (etcd: a client and a peer port), the hosts of a good one."""
    inventory = tmp_path / "hosts.toml"
    with pytest.raises(ConfigError, match=r"^cannot read inventory .*hosts\.toml"):
        plan_run(RunConfig(runtime="ssh", inventory=inventory))
    inventory.write_text(HOSTS)
    with pytest.raises(ConfigError, match=r"^target 'etcd' does not run in the ssh runtime yet"):
        plan_run(RunConfig(target="etcd", runtime="ssh", inventory=inventory))
    plan = plan_run(RunConfig(runtime="ssh", inventory=inventory, nodes=1))
    assert plan.hosts is not None and plan.hosts.names == ["a"]
    assert plan_run(RunConfig()).hosts is None
    assert not (tmp_path / "runs").exists()
