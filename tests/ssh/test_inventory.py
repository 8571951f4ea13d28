"""Inventory files: defaults, overrides, and one-line errors naming file, host and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.errors import ConfigError
from chaoskit.remote.inventory import DEFAULT_DATA_DIR, load_inventory, parse_inventory


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hosts.toml"
    path.write_text(text)
    return path


def test_defaults_apply_to_every_host_and_hosts_override(tmp_path: Path) -> None:
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "id").write_text("not read here")
    path = write(
        tmp_path,
        """
user = "chaos"
key_file = "keys/id"
sudo = true
node_port = 9000

[[hosts]]
name = "db1"
address = "db1.example"
node_host = "10.0.0.1"

[[hosts]]
name = "db2"
address = "10.0.0.2"
port = 2222
user = "root"
tunnel = true
data_dir = "/srv/chaos"
""",
    )
    inv = load_inventory(path)
    db1, db2 = inv.hosts
    assert inv.names == ["db1", "db2"] and inv.source == str(path)
    assert (db1.user, db1.port, db1.sudo, db1.node_port) == ("chaos", 22, True, 9000)
    assert db1.key_file == tmp_path / "keys" / "id"  # relative to the file
    assert db1.peer_address == "10.0.0.1" and db2.peer_address == "10.0.0.2"
    assert db1.data_dir == DEFAULT_DATA_DIR and db2.data_dir == "/srv/chaos"
    assert (db2.user, db2.port, db2.tunnel) == ("root", 2222, True)
    assert db1.strict_host_keys and db1.known_hosts is None and not db1.agent
    assert inv.host("db2") is db2
    with pytest.raises(ConfigError, match="no host 'db3' \\(known: db1, db2\\)"):
        inv.host("db3")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[hosts]]\nname = "a"\n', r"hosts\[0\] \(a\): missing field 'address'"),
        ('[[hosts]]\naddress = "x"\n', r"hosts\[0\]: missing field 'name'"),
        ("user = 'x'\n", "needs at least one \\[\\[hosts\\]\\] entry"),
        ('colour = 1\n[[hosts]]\nname = "a"\naddress = "x"\n', r"unknown field\(s\) colour"),
        (
            '[[hosts]]\nname = "a"\naddress = "x"\nprot = 22\n',
            r"hosts\[0\]: unknown field\(s\) prot",
        ),
        ('[[hosts]]\nname = "a"\naddress = "x"\nport = 0\n', r"\(a\): field 'port' must be a port"),
        (
            '[[hosts]]\nname = "a"\naddress = "x"\nport = "22"\n',
            r"field 'port' must be integer, not str",
        ),
        ('[[hosts]]\nname = "a"\naddress = "x"\nsudo = 1\n', r"field 'sudo' must be bool, not int"),
        ('[[hosts]]\nname = "a b"\naddress = "x"\n', r"field 'name' must be letters"),
        ('[[hosts]]\nname = "a"\naddress = "x y"\n', r"field 'address' must be a non-empty word"),
        (
            '[[hosts]]\nname = "a"\naddress = "x"\ndata_dir = "tmp"\n',
            r"'data_dir' must be an absolute",
        ),
        ('[[hosts]]\nname = "a"\naddress = "x"\ndata_dir = "/"\n', r"'data_dir' cannot be /"),
        ('[[hosts]]\nname = "a"\naddress = "x"\nkey_file = "nope"\n', r"'key_file': no such file"),
        (
            '[[hosts]]\nname = "a"\naddress = "x"\n[[hosts]]\nname = "a"\naddress = "y"\n',
            "hosts a and a have the same name 'a'",
        ),
        (
            '[[hosts]]\nname = "a"\naddress = "x"\n[[hosts]]\nname = "b"\naddress = "x"\n',
            "hosts a and b have the same node address 'x'",
        ),
        ('[[hosts]]\nname = "a"\naddress = "x"\ncommand_timeout = 0\n', "must be positive seconds"),
        ("[[hosts]\n", "not valid TOML"),
    ],
)
def test_errors_name_file_host_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match=message) as err:
        load_inventory(path)
    assert str(err.value).startswith(str(path)) or "TOML" in str(err.value)
    assert "\n" not in str(err.value)


def test_known_hosts_and_the_opt_out_contradict(tmp_path: Path) -> None:
    (tmp_path / "kh").write_text("")
    text = '[[hosts]]\nname = "a"\naddress = "x"\nknown_hosts = "kh"\nstrict_host_keys = false\n'
    with pytest.raises(ConfigError, match="contradict each other"):
        load_inventory(write(tmp_path, text))


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read inventory .*nope\.toml: "):
        load_inventory(tmp_path / "nope.toml")


def test_a_target_spec_table_is_an_inventory_too(tmp_path: Path) -> None:
    table = {"user": "u", "hosts": [{"name": "a", "address": "10.1.1.1"}]}
    inv = parse_inventory(table, source="mysvc.toml [ssh]", base_dir=tmp_path)
    assert inv.hosts[0].user == "u" and inv.source == "mysvc.toml [ssh]"
    with pytest.raises(ConfigError, match=r"^mysvc\.toml \[ssh\]: hosts\[0\]"):
        parse_inventory({"hosts": [{"name": "a"}]}, source="mysvc.toml [ssh]")
