"""Spec files are validated field by field; launch argv is rendered without a shell."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.core.target import NodeInfo
from chaoskit.spec.fields import SpecError
from chaoskit.spec.loader import load_spec_target
from chaoskit.spec.probes import parse_status_output

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


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "svc.toml"
    p.write_text(text)
    return p


def test_good_spec_renders_argv_per_node(tmp_path: Path) -> None:
    target = load_spec_target(_write(tmp_path, GOOD))
    assert target.default_policy == "per-term"
    assert target.election_deadline == pytest.approx(2.5)
    node = NodeInfo("n2", 1, "127.0.0.1", 7002, 7002, tmp_path / "d2")
    launch = target.launch(node, {"n1": ("127.0.0.1", 9001), "n3": ("127.0.0.1", 9003)})
    assert launch.argv[:5] == ["svc", "--id", "n2", "--listen", "127.0.0.1:7002"]
    assert launch.argv[7:9] == ["--all", "n1=127.0.0.1:9001,n3=127.0.0.1:9003"]
    assert launch.argv[9:] == ["--peer", "n1=127.0.0.1:9001", "--peer", "n3=127.0.0.1:9003"]
    assert launch.env == {"SVC_NODE": "n2"}


def test_argument_with_spaces_stays_one_argument(tmp_path: Path) -> None:
    text = GOOD.replace('"--data", "{data_dir}"', '"--data", "{data_dir}; rm -rf /"')
    target = load_spec_target(_write(tmp_path, text))
    node = NodeInfo("n1", 0, "127.0.0.1", 1, 1, Path("/x y"))
    assert "/x y; rm -rf /" in target.launch(node, {}).argv  # one argv element, no shell


def test_status_mapping(tmp_path: Path) -> None:
    target = load_spec_target(_write(tmp_path, GOOD))
    st = target.status_spec.interpret({"state": {"role": "leader", "term": "4", "leader": "n2"}})
    assert (st.role, st.term, st.leader) == ("leader", 4, "n2")
    st = target.status_spec.interpret({"state": {"role": "whatever"}})
    assert (st.role, st.term, st.leader) == ("follower", None, None)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace('name = "svc"\n', ""), "missing field 'name'"),
        (
            lambda s: s.replace("election_timeout = 0.5", 'election_timeout = "fast"'),
            "field 'election_timeout' must be float",
        ),
        (lambda s: s.replace('policy = "per-term"', 'policy = "loose"'), "field 'policy'"),
        (lambda s: s.replace("{host}:{port}", "{hots}:{port}"), "unknown placeholder '{hots}'"),
        (lambda s: s.replace('http = "GET /status"', 'http = "FETCH status"'), "'http' must look"),
        (lambda s: s.replace('role = "state.role"\n', ""), "give 'role' or 'is_leader'"),
        (lambda s: s.replace("[ops.cas]", "[ops.frobnicate]"), "unknown operation"),
        (lambda s: "bogus = 1\n" + s, "unknown field(s) bogus"),
        (lambda s: s + "\nretries = 1\n", "[ops].cas: unknown field(s) retries"),
        (lambda s: s.replace('argv = ["svc"', "argv = [1"), "list of strings"),
        (lambda s: s + "\n[[[", "not valid TOML"),
    ],
)
def test_bad_specs_name_the_field(tmp_path: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        SpecError,
        match=message.replace("(", r"\(")
        .replace(")", r"\)")
        .replace("{", r"\{")
        .replace("}", r"\}")
        .replace("[", r"\["),
    ):
        load_spec_target(_write(tmp_path, edit(GOOD)))


def test_register_workload_needs_its_ops(tmp_path: Path) -> None:
    text = GOOD.split("[ops.read]")[0]
    with pytest.raises(SpecError, match="without their \\[ops\\]: register"):
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


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("port = 9000\n", "missing field 'image'"),
        ('image = ""\n', "field 'image' must not be empty"),
        ('image = "svc"\nport = 70000\n', "field 'port' must be a TCP port"),
        ('image = "svc"\nport = "80"\n', "field 'port' must be int"),
        ('image = "svc"\nports = [80]\n', "unknown field(s) ports"),
    ],
)
def test_docker_table_errors_name_the_field(tmp_path: Path, table: str, message: str) -> None:
    with pytest.raises(
        SpecError, match=r"\[docker\].*" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        load_spec_target(_write(tmp_path, GOOD + "\n[docker]\n" + table))
