"""Fixtures of the SSH runtime tests: real sshd hosts in containers, made per session.

``ssh_hosts`` starts five ``chaoskit-sshhost`` containers on a Docker network the
fixture creates (NET_ADMIN, so iptables works inside them), each with sshd published
on 127.0.0.1:<port>, authorizing a key pair generated now, with fresh host keys
written to a ``known_hosts`` file. Everything is removed afterwards; containers of an
earlier session whose creator died are removed first. Each test uses its own run id
and checks that its run left nothing on the hosts.

Without a Docker engine or the image these tests skip outside CI (run
``.ci/docker-setup.sh``); under ``CI=true`` a skip fails the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chaoskit.remote.inventory import Inventory, load_inventory
from chaoskit.remote.ssh import SshPool, asyncssh
from chaoskit.remote.testhosts import SSHHOST_IMAGE
from chaoskit.runtimes.registry import process_token, token_alive
from tests.support.eventually import async_eventually as wait_for  # noqa: F401 - for the tests

LABEL = "chaoskit.sshtest"
LABEL_CREATOR = "chaoskit.sshtest.creator"
HOSTS = 5
PYTHON_ON_HOST = "/opt/chaoskit/bin/python"
DATA_DIR = "/var/tmp/chaoskit"


@dataclass(frozen=True)
class TestHost:
    name: str
    container: str
    ssh_port: int
    ip: str


@dataclass
class SshHosts:
    """The session's hosts, and inventory files written for them."""

    hosts: list[TestHost]
    key: Path
    known_hosts: Path
    directory: Path
    client: Any

    def inventory_file(self, count: int = HOSTS, *, name: str | None = None, **extra: Any) -> Path:
        """An inventory of the first ``count`` hosts; ``extra`` are top-level defaults."""
        defaults = {
            "user": "root",
            "key_file": str(self.key),
            "known_hosts": str(self.known_hosts),
            "data_dir": DATA_DIR,
            "python": PYTHON_ON_HOST,
            "node_port": 8000,
            **extra,
        }
        lines = [f"{k} = {_toml(v)}" for k, v in defaults.items()]
        for host in self.hosts[:count]:
            lines += [
                "",
                "[[hosts]]",
                f'name = "{host.name}"',
                'address = "127.0.0.1"',
                f"port = {host.ssh_port}",
                f'node_host = "{host.ip}"',
            ]
        path = self.directory / (name or f"inventory-{uuid.uuid4().hex[:6]}.toml")
        path.write_text("\n".join(lines) + "\n")
        return path

    def inventory(self, count: int = HOSTS, **extra: Any) -> Inventory:
        return load_inventory(self.inventory_file(count, **extra))

    def exec(self, host: TestHost, argv: list[str]) -> tuple[int, str]:
        """Run ``argv`` in the host's container as root (the tests' own view, not SSH)."""
        container = self.client.containers.get(host.container)
        result = container.exec_run(argv, user="root")
        return int(result.exit_code), result.output.decode(errors="replace")


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


@pytest.fixture(scope="session")
def docker() -> Any:
    from chaoskit.errors import SetupError
    from chaoskit.runtimes.images import docker_client

    try:
        client = docker_client()
    except SetupError as exc:
        pytest.skip(f"{exc}; run .ci/docker-setup.sh to include the SSH tests")
    if not client.images.list(name=SSHHOST_IMAGE):
        pytest.skip(f"image {SSHHOST_IMAGE} missing: run .ci/docker-setup.sh")
    return client


@pytest.fixture(scope="session")
def ssh_hosts(docker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshHosts]:
    directory = tmp_path_factory.mktemp("sshhosts")
    _remove_stale(docker)
    key = directory / "id_ed25519"
    private = asyncssh.generate_private_key("ssh-ed25519")
    private.write_private_key(str(key))
    key.chmod(0o600)
    public = private.export_public_key().decode().strip()
    tag = f"ck-sshtest-{uuid.uuid4().hex[:8]}"
    labels = {LABEL: tag, LABEL_CREATOR: process_token()}
    network = docker.networks.create(tag, driver="bridge", labels=labels)
    containers: list[Any] = []
    try:
        for i in range(HOSTS):
            containers.append(
                docker.containers.run(
                    SSHHOST_IMAGE,
                    name=f"{tag}-h{i + 1}",
                    hostname=f"h{i + 1}",
                    detach=True,
                    init=True,
                    cap_add=["NET_ADMIN"],
                    environment={"CHAOSKIT_AUTHORIZED_KEY": public},
                    network=tag,
                    ports={"22/tcp": ("127.0.0.1", None)},
                    labels=labels,
                )
            )
        hosts = [_describe(docker, c, tag, i) for i, c in enumerate(containers)]
        known = directory / "known_hosts"
        known.write_text("".join(_known_line(docker, h) for h in hosts))
        found = SshHosts(hosts, key, known, directory, docker)
        asyncio.run(_wait_ready(found))
        yield found
    finally:
        for container in containers:
            with contextlib.suppress(Exception):
                container.remove(force=True)
        with contextlib.suppress(Exception):
            network.remove()


def _describe(docker: Any, container: Any, network: str, index: int) -> TestHost:
    deadline = time.monotonic() + 30
    while True:
        container.reload()
        ports = container.attrs["NetworkSettings"]["Ports"].get("22/tcp") or []
        ip = container.attrs["NetworkSettings"]["Networks"].get(network, {}).get("IPAddress")
        if ports and ip:
            return TestHost(f"h{index + 1}", container.name, int(ports[0]["HostPort"]), ip)
        if time.monotonic() > deadline:
            raise AssertionError(f"{container.name} has no published port or address")
        time.sleep(0.1)


def _known_line(docker: Any, host: TestHost) -> str:
    deadline = time.monotonic() + 30
    container = docker.containers.get(host.container)
    while True:
        result = container.exec_run(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"])
        if result.exit_code == 0:
            key = " ".join(result.output.decode().split()[:2])
            return f"[127.0.0.1]:{host.ssh_port} {key}\n"
        if time.monotonic() > deadline:
            raise AssertionError(f"{host.container} made no host key")
        time.sleep(0.2)


async def _wait_ready(found: SshHosts) -> None:
    inventory = found.inventory()
    pool = SshPool(inventory.hosts)
    try:
        for host in inventory.hosts:
            deadline = time.monotonic() + 60
            while True:
                try:
                    await pool.run(host.name, ["true"])
                    break
                except Exception:
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.3)
    finally:
        await pool.close()


def _remove_stale(docker: Any) -> None:
    """Containers and networks of an earlier session whose pytest died (SIGKILL)."""
    for container in docker.containers.list(all=True, filters={"label": LABEL}):
        if not token_alive(container.labels.get(LABEL_CREATOR, "")):
            with contextlib.suppress(Exception):
                container.remove(force=True)
    for network in docker.networks.list(filters={"label": LABEL}):
        if not token_alive(network.attrs.get("Labels", {}).get(LABEL_CREATOR, "")):
            with contextlib.suppress(Exception):
                network.remove()


@pytest.fixture
def run_id(ssh_hosts: SshHosts) -> Iterator[str]:
    """A fresh run id; afterwards no process, rule or file of it may remain on any host."""
    rid = f"t{uuid.uuid4().hex[:8]}"
    yield rid
    left = leftovers(ssh_hosts, rid)
    assert left == [], f"run {rid} left {left}"


def leftovers(hosts: SshHosts, rid: str) -> list[str]:
    """What run ``rid`` still has on the hosts, seen from inside the containers."""
    found = []
    for host in hosts.hosts:
        _, rules = hosts.exec(host, ["iptables", "-S"])
        found += [f"{host.name}: rule {line}" for line in rules.splitlines() if rid in line]
        code, _ = hosts.exec(host, ["test", "-e", f"{DATA_DIR}/{rid}"])
        if code == 0:
            found.append(f"{host.name}: {DATA_DIR}/{rid}")
        _, procs = hosts.exec(
            host, ["sh", "-c", f"grep -l CHAOSKIT_RUN_ID={rid} /proc/[0-9]*/environ; true"]
        )
        found += [f"{host.name}: process {line}" for line in procs.split() if "/proc/" in line]
        # libfaketime's files of dead processes (only the tests' runs use these hosts).
        _, shm = hosts.exec(
            host,
            [
                "sh",
                "-c",
                'for f in /dev/shm/*faketime_*; do [ -e "$f" ] || continue; '
                'p=${f##*_}; [ -d /proc/$p ] || echo "$f"; done',
            ],
        )
        found += [f"{host.name}: {line}" for line in shm.split()]
    return found
