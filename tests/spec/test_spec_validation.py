"""Spec files are validated field by field, errors name file, table and field in one
line; launch argv is rendered from named ports and peers without a shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.clients.command import CommandOp
from chaoskit.core.target import NodeInfo, Port
from chaoskit.errors import ConfigError
from chaoskit.spec.loader import SpecError, load_spec_target
from chaoskit.spec.probes import HttpOp, parse_status_output

GOOD = """
name = "svc"
policy = "per-term"
election_timeout = 0.5
workloads = ["none", "register"]

[launch]
argv = ["svc", "--id", "{id}", "--listen", "{host}:{port}",
        "--data", "{data_dir}", "--all", "{peers}"]
peer_argv = ["--peer", "{peer.id}={peer.host}:{peer.port}"]
env = { SVC_NODE = "{id}" }

[status]
http = "GET /status"
role = "state.role"
leader = "state.leader"
term = "state.term"

[ops.read]
http = "GET /kv/{key}"
value = "value"
[ops.write]
http = "PUT /kv/{key}"
body = '{{"value": {value}}}'
[ops.cas]
http = "POST /kv/{key}/cas"
body = '{{"from": {from}, "to": {to}}}'
"""

#: Two named ports, peers on one; destination mode, so {self} exists.
PORTS = """
name = "two"
proxy_mode = "destination"
ready = "roles"
settle_s = 4
fault_s = 6
heal_s = 3

[ports]
client = { peer = false }
raft = { peer = true }
gossip = { peer = true }

[launch]
argv = ["two", "--client", "{host}:{ports.client}", "--raft", "{host}:{ports.raft}",
        "--advertise", "{self}", "--gossip-port", "{self.ports.gossip}",
        "--cluster", "{cluster}", "--dir", "{spec_dir}"]
peer_format = "{peer.id}@{peer}/{peer.ports.gossip}"

[status]
command = ["two-ctl", "--server", "{host}:{ports.client}", "status"]
is_leader = "leader"
"""


def _write(tmp_path: Path, text: str, name: str = "svc.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _peers(**addrs: dict[str, int]) -> dict[str, dict[str, tuple[str, int]]]:
    return {nid: {k: ("127.0.0.1", p) for k, p in ports.items()} for nid, ports in addrs.items()}


def test_good_spec_renders_argv_per_node(tmp_path: Path) -> None:
    target = load_spec_target(_write(tmp_path, GOOD))
    assert target.default_policy == "per-term"
    assert target.election_deadline == pytest.approx(2.5)
    assert target.ports == (Port("api", peer=True),)  # no [ports]: one port peers dial too
    assert (target.ready, target.settle_s, target.fault_s, target.heal_s) == (
        "answer",
        0.0,
        None,
        None,
    )
    node = NodeInfo("n2", 1, "127.0.0.1", {"api": 7002}, tmp_path / "d2")
    launch = target.launch(node, _peers(n1={"api": 9001}, n3={"api": 9003}))
    assert launch.argv[:5] == ["svc", "--id", "n2", "--listen", "127.0.0.1:7002"]
    assert launch.argv[7:9] == ["--all", "n1=127.0.0.1:9001,n3=127.0.0.1:9003"]
    assert launch.argv[9:] == ["--peer", "n1=127.0.0.1:9001", "--peer", "n3=127.0.0.1:9003"]
    assert launch.env == {"SVC_NODE": "n2"}
    assert target.client() is None and isinstance(target.ops["cas"], HttpOp)


def test_named_ports_self_and_cluster_in_destination_mode(tmp_path: Path) -> None:
    target = load_spec_target(_write(tmp_path, PORTS))
    assert target.ports == (Port("client"), Port("raft", True), Port("gossip", True))
    assert (target.ready, target.settle_s, target.fault_s, target.heal_s) == ("roles", 4, 6, 3)
    node = NodeInfo("n1", 0, "127.0.0.1", {"client": 1, "raft": 2, "gossip": 3}, tmp_path)
    fronts = _peers(n1={"raft": 11, "gossip": 12}, n2={"raft": 21, "gossip": 22})
    argv = target.launch(node, fronts).argv
    flags = dict(zip(argv[1::2], argv[2::2], strict=True))
    assert flags["--client"] == "127.0.0.1:1" and flags["--raft"] == "127.0.0.1:2"
    # {self}: the node as its peers see it (the proxy in front of its first peer port).
    assert flags["--advertise"] == "127.0.0.1:11" and flags["--gossip-port"] == "12"
    assert flags["--cluster"] == "n1@127.0.0.1:11/12,n2@127.0.0.1:21/22"
    assert flags["--dir"] == str(tmp_path.resolve())
    assert target.probe.port == "client" and target.probe.command is not None


def test_argument_with_spaces_stays_one_argument(tmp_path: Path) -> None:
    text = GOOD.replace('"--data", "{data_dir}"', '"--data", "{data_dir}; rm -rf /"')
    target = load_spec_target(_write(tmp_path, text))
    node = NodeInfo("n1", 0, "127.0.0.1", {"api": 1}, Path("/x y"))
    assert "/x y; rm -rf /" in target.launch(node, {}).argv  # one argv element, no shell


def test_status_mapping(tmp_path: Path) -> None:
    target = load_spec_target(_write(tmp_path, GOOD))
    st = target.probe.interpret({"state": {"role": "leader", "term": "4", "leader": "n2"}})
    assert (st.role, st.term, st.leader) == ("leader", 4, "n2")
    st = target.probe.interpret({"state": {"role": "whatever"}})
    assert (st.role, st.term, st.leader) == ("follower", None, None)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace('name = "svc"\n', ""), "svc.toml: field 'name': Field required"),
        (
            lambda s: s.replace("election_timeout = 0.5", 'election_timeout = "fast"'),
            "svc.toml: field 'election_timeout': Input should be a valid number",
        ),
        (
            lambda s: s.replace("election_timeout = 0.5", "election_timeout = 0"),
            "field 'election_timeout': Input should be greater than 0",
        ),
        (
            lambda s: s.replace('policy = "per-term"', 'policy = "loose"'),
            "field 'policy': Input should be 'strict' or 'per-term'",
        ),
        (
            lambda s: s.replace("{host}:{port}", "{hots}:{port}"),
            "[launch] argv: unknown placeholder {hots}",
        ),
        (
            lambda s: s.replace("{peer.host}", "{peer.hots}"),
            "[launch] peer_argv: unknown placeholder {peer.hots}",
        ),
        (
            lambda s: s.replace('http = "GET /status"', 'http = "FETCH status"'),
            "[status]: field 'http'",
        ),
        (lambda s: s.replace('role = "state.role"\n', ""), "[status]: give 'role' or 'is_leader'"),
        (lambda s: s.replace("[ops.cas]", "[ops.frobnicate]"), "[ops]: name 'frobnicate'"),
        (lambda s: "bogus = 1\n" + s, "svc.toml: unknown field 'bogus'"),
        (lambda s: s + "\nretries = 1\n", "svc.toml [ops.cas]: unknown field 'retries'"),
        (lambda s: s.replace('argv = ["svc"', "argv = [1"), "field 'argv' (item 0)"),
        (lambda s: s + "\n[[[", "not valid TOML"),
        (lambda s: s.replace("workloads = [", 'ready = "soon"\nworkloads = ['), "field 'ready'"),
        (lambda s: s.replace("workloads = [", "settle_s = -1\nworkloads = ["), "field 'settle_s'"),
        (lambda s: s + "\n[ports]\napi = {}\n", "[ports]: no port has 'peer = true'"),
        (lambda s: s + "\n[ports]\n2nd = {}\n", "[ports]: name '2nd'"),
        (
            lambda s: s.replace("{peers}", "{self}"),
            '{self} needs proxy_mode = "destination"',
        ),
        (
            lambda s: s.replace("{port}", "{ports.client}"),
            "unknown placeholder {ports.client}",
        ),
    ],
)
def test_bad_specs_name_the_field(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError) as info:
        load_spec_target(_write(tmp_path, edit(GOOD)))
    text = str(info.value)
    assert message in text and "\n" not in text, text


def test_several_errors_in_one_line(tmp_path: Path) -> None:
    text = GOOD.replace('name = "svc"\n', "").replace("election_timeout = 0.5", "settle_s = true")
    with pytest.raises(SpecError) as info:
        load_spec_target(_write(tmp_path, text))
    assert str(info.value).endswith(
        "svc.toml: field 'name': Field required; field 'settle_s': Input should be a valid number"
    )


def test_register_workload_needs_its_ops(tmp_path: Path) -> None:
    text = GOOD.split("[ops.read]")[0]
    with pytest.raises(SpecError, match=r"without their \[ops\] or a \[client\]: register"):
        load_spec_target(_write(tmp_path, text))


def test_command_ops_are_wired_with_named_ports(tmp_path: Path) -> None:
    text = PORTS + (
        'workloads = ["kv"]\n'
        '[ops.get]\ncommand = ["two-ctl", "{host}:{ports.client}", "get", "{key}"]\n'
        '[ops.put]\ncommand = ["{spec_dir}/ctl", "put", "{key}", "{value}"]\nfail_codes = [3]\n'
    ).replace('workloads = ["kv"]\n', "")
    text = text.replace('name = "two"', 'name = "two"\nworkloads = ["kv"]')
    target = load_spec_target(_write(tmp_path, text))
    put = target.ops["put"]
    assert isinstance(put, CommandOp) and put.fail_codes == {3}
    node = NodeInfo("n1", 0, "127.0.0.1", {"client": 5, "raft": 6, "gossip": 7}, tmp_path)
    argv = target.ops["get"].render(node, {"f": "get", "key": "k", "value": None})  # type: ignore[union-attr]
    assert argv == ["two-ctl", "127.0.0.1:5", "get", "k"]
    assert (
        put.render(node, {"f": "put", "key": "k", "value": "w"})[0] == f"{tmp_path.resolve()}/ctl"
    )
    bad = text.replace('"get", "{key}"', '"get", "{peers}"')
    with pytest.raises(ConfigError, match=r"\[ops.get\]: 'command': unknown placeholder \{peers\}"):
        load_spec_target(_write(tmp_path, bad))


def test_client_and_ops_exclude_each_other(tmp_path: Path) -> None:
    (tmp_path / "myclient.py").write_text(
        "class C:\n    def open(self, node): pass\n"
        "    def invoke(self, op): return None\n    def close(self): pass\n"
    )
    text = GOOD + '\n[client]\npython = "myclient:C"\n'
    with pytest.raises(SpecError, match=r"\[client\]: give a client class or \[ops\] tables"):
        load_spec_target(_write(tmp_path, text))
    only = GOOD.split("[ops.read]")[0] + '\n[client]\npython = "myclient:C"\n'
    target = load_spec_target(_write(tmp_path, only))
    assert type(target.client()).__name__ == "C" and target.ops == {}


def test_status_port_must_be_declared(tmp_path: Path) -> None:
    text = PORTS.replace("is_leader", 'port = "monitor"\nis_leader')
    with pytest.raises(SpecError, match=r"\[status\]: field 'port': no port 'monitor'"):
        load_spec_target(_write(tmp_path, text))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="no such target spec file"):
        load_spec_target(tmp_path / "absent.toml")


def test_status_output_parsing() -> None:
    assert parse_status_output('{"role": "leader"}') == {"role": "leader"}
    out = parse_status_output("Zookeeper version: 3.8\nMode: leader\nZxid: 0x100000002\n")
    assert out["Mode"] == "leader" and out["Zxid"] == "0x100000002"


def test_docker_table_names_the_image_and_port(tmp_path: Path) -> None:
    target = load_spec_target(_write(tmp_path, GOOD + '\n[docker]\nimage = "svc:1"\nport = 9000\n'))
    assert (target.docker_image, target.docker_port) == ("svc:1", 9000)
    plain = load_spec_target(_write(tmp_path, GOOD))
    assert (plain.docker_image, plain.docker_port) == (None, None)
    with pytest.raises(SpecError, match=r"\[docker\]: containers run spec targets with one port"):
        load_spec_target(_write(tmp_path, PORTS + '\n[docker]\nimage = "two:1"\n'))


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("port = 9000\n", "field 'image': Field required"),
        ('image = ""\n', "field 'image': String should have at least 1 character"),
        ('image = "svc"\nport = 70000\n', "field 'port': Input should be less than or equal"),
        ('image = "svc"\nport = "80"\n', "field 'port': Input should be a valid integer"),
        ('image = "svc"\nports = [80]\n', "unknown field 'ports'"),
    ],
)
def test_docker_table_errors_name_the_field(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_spec_target(_write(tmp_path, GOOD + "\n[docker]\n" + table))
    assert f"svc.toml [docker]: {message}" in str(info.value), str(info.value)


def test_an_ssh_table_is_left_to_the_ssh_runtime(tmp_path: Path) -> None:
    target = load_spec_target(_write(tmp_path, GOOD + '\n[ssh]\nuser = "chaos"\n'))
    assert target.name == "svc"
    with pytest.raises(SpecError, match="field 'ssh': Input should be a valid dictionary"):
        load_spec_target(_write(tmp_path, GOOD.replace("workloads", 'ssh = "hosts"\nworkloads')))
