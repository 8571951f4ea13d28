"""Pure parts of the Docker runtime: no engine needed."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from chaoskit.errors import ConfigError
from chaoskit.network.iptables import link_rules
from chaoskit.runtimes.containers import remove_run
from chaoskit.runtimes.docker import DATA_DIR, DockerRuntime
from chaoskit.runtimes.images import image_argv, requirements, stage_context


class _NoEngine:
    """Stands in for the SDK client: placement never talks to the engine."""


def _runtime(tmp_path: Path, run_id: str = "abc") -> DockerRuntime:
    return DockerRuntime(run_id, tmp_path, client=_NoEngine())


def test_placement_inside_is_the_container_and_outside_is_loopback(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    p = rt.place("n2", 1, host_port=45001)
    assert (p.inside.host, p.inside.port, p.inside.data_dir) == ("ck-abc-n2", 8000, DATA_DIR)
    assert (p.outside.host, p.outside.port) == ("127.0.0.1", 45001)
    assert p.outside.url == "http://127.0.0.1:45001"


def test_placed_nodes_get_distinct_host_ports(tmp_path: Path) -> None:
    placed = _runtime(tmp_path).place_nodes(["n1", "n2", "n3"])
    assert len({p.outside.port for p in placed}) == 3
    assert [p.inside.index for p in placed] == [0, 1, 2]


def test_peers_dial_the_proxy_container_by_name(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    listen = {"n1": {"n2": {"api": ("0.0.0.0", 40001)}}, "n2": {"n1": {"api": ("0.0.0.0", 40002)}}}
    assert rt.via_proxy(listen) == {
        "n1": {"n2": {"api": ("ck-abc-proxy", 40001)}},
        "n2": {"n1": {"api": ("ck-abc-proxy", 40002)}},
    }


def test_direct_peers_are_the_other_containers(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    rt.place_nodes(["n1", "n2", "n3"])
    assert rt.direct_peers("n1") == {
        "n2": {"api": ("ck-abc-n2", 8000)},
        "n3": {"api": ("ck-abc-n3", 8000)},
    }


@pytest.mark.parametrize("run_id", ["", "-x", "a b", "a/b"])
def test_run_ids_unusable_in_names_are_refused(tmp_path: Path, run_id: str) -> None:
    with pytest.raises(ConfigError, match="run id"):
        _runtime(tmp_path, run_id)


def test_the_hosts_python_becomes_the_images_python() -> None:
    assert image_argv([sys.executable, "-m", "chaoskit.targets.raft"]) == [
        "python",
        "-m",
        "chaoskit.targets.raft",
    ]
    assert image_argv(["/usr/bin/python3.11", "-V"]) == ["python", "-V"]
    assert image_argv(["etcd", "--name", "n1"]) == ["etcd", "--name", "n1"]
    with pytest.raises(ConfigError):
        image_argv([])


def test_cut_refuses_tcp_and_drops_the_rest_on_connections_the_source_opened() -> None:
    rules = link_rules("10.0.0.2", "cut")
    assert all(r[:6] == ["-s", "10.0.0.2", "-m", "conntrack", "--ctdir", "ORIGINAL"] for r in rules)
    assert rules[0][-4:] == ["-j", "REJECT", "--reject-with", "tcp-reset"]
    assert rules[1][-2:] == ["-j", "DROP"]


def test_hang_drops_silently_and_loss_uses_statistic() -> None:
    assert link_rules("10.0.0.2", "hang") == [
        ["-s", "10.0.0.2", "-m", "conntrack", "--ctdir", "ORIGINAL", "-j", "DROP"]
    ]
    loss = link_rules("10.0.0.2", "loss:0.25")[0]
    assert loss[loss.index("--probability") + 1] == "0.25"
    with pytest.raises(ConfigError, match="unknown link fault"):
        link_rules("10.0.0.2", "sever")


def _wheel(path: Path, requires: list[str]) -> Path:
    meta = "Metadata-Version: 2.1\nName: chaoskit\nVersion: 0.1.0\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("chaoskit-0.1.0.dist-info/METADATA", meta)
    return path


def test_requirements_leave_out_extras(tmp_path: Path) -> None:
    wheel = _wheel(
        tmp_path / "chaoskit-0.1.0-py3-none-any.whl",
        ["httpx>=0.27", "click>=8.1", 'pytest>=8; extra == "test"'],
    )
    assert requirements(wheel) == ["httpx>=0.27", "click>=8.1"]


def test_stage_context_splits_chaoskit_from_its_dependencies(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    _wheel(wheels / "chaoskit-0.1.0-py3-none-any.whl", ["httpx>=0.27"])
    (wheels / "httpx-0.28.1-py3-none-any.whl").write_bytes(b"not read")
    ctx = stage_context(wheels, tmp_path / "ctx")
    assert sorted(p.name for p in (ctx / "wheels" / "chaoskit").iterdir()) == [
        "chaoskit-0.1.0-py3-none-any.whl"
    ]
    deps = sorted(p.name for p in (ctx / "wheels" / "deps").iterdir())
    assert deps == ["httpx-0.28.1-py3-none-any.whl", "requirements.txt"]
    assert (ctx / "wheels" / "deps" / "requirements.txt").read_text() == "httpx>=0.27\n"
    assert (ctx / "node.Dockerfile").is_file() and (ctx / "proxy.Dockerfile").is_file()


def test_docker_runtime_is_a_runtime(tmp_path: Path) -> None:
    from chaoskit.core.runtime import Runtime

    assert isinstance(_runtime(tmp_path), Runtime)


def _conflict() -> object:
    import requests

    response = requests.Response()
    response.status_code = 409
    return response


class _Gone:
    """A container the engine is already removing (an auto-removed helper)."""

    name = "ck-x-helper"

    def remove(self, force: bool, v: bool) -> None:
        import docker.errors

        raise docker.errors.APIError(
            "409 Conflict",
            response=_conflict(),
            explanation="removal of container abc is already in progress",
        )


class _Busy(_Gone):
    name = "ck-x-n1"

    def remove(self, force: bool, v: bool) -> None:
        import docker.errors

        raise docker.errors.APIError(
            "409 Conflict", response=_conflict(), explanation="container is in use"
        )


class _Client:
    def __init__(self, *containers: object) -> None:
        self.containers = type("C", (), {"list": lambda _s, **kw: list(containers)})()
        self.networks = type("N", (), {"list": lambda _s, **kw: []})()


def test_remove_run_lets_a_container_already_being_removed_go() -> None:
    import docker.errors

    assert remove_run(_Client(_Gone()), "x") == ["container ck-x-helper"]
    with pytest.raises(docker.errors.APIError):
        remove_run(_Client(_Busy()), "x")
