"""Issue 26 in the Docker runtime: the proxy container answers only the controller.

The proxy container is started the way the Docker runtime starts it, from an image
that carries this checkout's proxy code (built here on top of the proxy image, tagged
for this test and removed after it: the shared ``chaoskit-proxy:latest`` may predate
this code and is left alone). Nodes run the ordinary node image.
"""

from __future__ import annotations

import asyncio
import io
import os
import secrets
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaoskit.core.target import Launch
from chaoskit.errors import ProxyError, SetupError
from chaoskit.network.toxiproxy import ProxyNetwork
from chaoskit.proxy import ProxyClient
from chaoskit.proxy._watch import FaultApiWatch
from chaoskit.runtimes.containers import leftovers, remove_run
from chaoskit.runtimes.docker import DockerRuntime
from chaoskit.runtimes.images import NODE_IMAGE, PROXY_IMAGE, build_images, docker_client

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("CHAOSKIT_BASE_IMAGE", "chaoskit-base:bookworm")
WHEELS = Path(os.environ.get("CHAOSKIT_CACHE", "/var/cache/chaoskit")) / "wheels"
HTTP_SERVER = Launch([sys.executable, "-m", "http.server", "8000"])
#: Run inside a node: GET a URL (with a token, if given); prints the status or the error.
FETCH = """
import sys, urllib.request, urllib.error
request = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2:
    request.add_header("Authorization", "Bearer " + sys.argv[2])
try:
    print(urllib.request.urlopen(request, timeout=5).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except Exception as exc:
    print(type(exc).__name__)
"""
OVERLAY = """
FROM {base}
COPY chaoskit /opt/h26/chaoskit
COPY proxy_entry.py /opt/chaoskit/proxy_entry.py
ENV PYTHONPATH=/opt/h26
"""


@pytest.fixture(scope="module")
def client() -> Any:
    try:
        return docker_client()
    except SetupError as exc:
        pytest.skip(f"{exc}; run .ci/docker-setup.sh to include the Docker tests")


@pytest.fixture(scope="module")
def proxy_image(client: Any) -> Iterator[str]:
    """The proxy image with this checkout's ``chaoskit`` and ``proxy_entry.py`` on top."""
    if not all(client.images.list(name=tag) for tag in (NODE_IMAGE, PROXY_IMAGE)):
        base = BASE_IMAGE if client.images.list(name=BASE_IMAGE) else "python:3.11-slim"
        build_images(base, WHEELS if WHEELS.is_dir() else None, client=client)
    tag = f"chaoskit-proxy:h26-{secrets.token_hex(4)}"
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        dockerfile = OVERLAY.format(base=PROXY_IMAGE).encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(REPO / "docker" / "proxy_entry.py", "proxy_entry.py")
        tar.add(
            REPO / "chaoskit",
            "chaoskit",
            filter=lambda entry: None if "__pycache__" in entry.name else entry,
        )
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True)
    try:
        yield tag
    finally:
        client.images.remove(tag, force=True)


@pytest.fixture
def run_id(client: Any) -> Iterator[str]:
    rid = f"t{secrets.token_hex(4)}"
    yield rid
    left = leftovers(rid, client=client)
    remove_run(client, rid)
    assert left == [], f"run {rid} left {left}"


def test_only_the_controller_reaches_the_proxy_container(
    client: Any, proxy_image: str, run_id: str, tmp_path: Path
) -> None:
    async def scenario() -> None:
        written: list[dict[str, Any]] = []
        watch = FaultApiWatch(written.append, lambda: 1)
        rt = DockerRuntime(run_id, tmp_path, proxy_image=proxy_image, net_admin=False)
        controller: ProxyClient | None = None
        try:
            url = await rt.start_proxy(seed=3, token=watch.token)
            controller = watch.client(url, "pull")
            assert (await controller.version()).startswith("2.")
            async with ProxyClient(url) as anonymous:
                with pytest.raises(ProxyError) as caught:
                    await anonymous.proxies()
                assert caught.value.status == 401
            placed = rt.place_nodes(["n1", "n2"])
            net = ProxyNetwork(controller, run_id, listen_host="0.0.0.0")
            peers = rt.via_proxy(await net.setup([p.inside for p in placed]))
            for p in placed:
                await rt.launch(p.outside, HTTP_SERVER)
            host, port = peers["n2"]["n1"]["api"]

            async def from_n2(target: str, *token: str) -> str:
                code, out = await rt.exec("n2", ["python", "-c", FETCH, target, *token])
                assert code == 0, out
                return out.strip()

            deadline = asyncio.get_running_loop().time() + 60
            while await from_n2(f"http://{host}:{port}/") != "200":  # peers: through it
                assert asyncio.get_running_loop().time() < deadline, "n2 never reached n1"
                await asyncio.sleep(0.3)
            api = f"http://{rt.proxy_name}:8474/proxies"
            assert await from_n2(api) == "403"  # the API: not from the nodes' network,
            assert await from_n2(api, watch.token) == "403"  # not even with the token
            await net.cut([("n2", "n1")])
            assert await from_n2(f"http://{host}:{port}/") != "200"
            await net.heal()

            async with ProxyClient(url, token=watch.token) as other:  # someone else
                await other.update_proxy(net._proxies[("n1", "n2")][0], enabled=False)
            await watch.check()

            containers = client.containers.list(
                all=True, filters={"label": f"chaoskit.run={run_id}"}
            )
            assert len(containers) == 3
            for container in containers:
                assert not container.attrs["HostConfig"]["CapAdd"], container.name
                assert watch.token not in " ".join(container.attrs["Args"]), container.name
        finally:
            if controller is not None:
                await controller.aclose()
            await rt.close()
        refused = [r for r in written if r["status"] == 403]
        assert len(refused) == 0  # GETs are not changes; the nodes changed nothing
        changed = [r for r in written if r["status"] == 200]
        assert [(r["method"], r["body"]) for r in changed] == [("POST", {"enabled": False})]
        log = (tmp_path / "logs" / "proxy.log").read_text()
        assert "token required" in log and "clients: " in log and "127.0.0.0/8" in log

    asyncio.run(scenario())
