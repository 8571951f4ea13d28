"""The images build on the base image and hold what the nodes and faults need."""

from __future__ import annotations

from typing import Any

import pytest

from chaoskit.runtimes.images import NODE_IMAGE, PROXY_IMAGE, build_images

from .conftest import BASE_IMAGE, WHEELS

pytestmark = pytest.mark.docker

PROBE = (
    "import chaoskit, chaoskit.proxy, chaoskit.targets, shutil, glob; "
    "print(shutil.which('iptables'), shutil.which('tc'), "
    "glob.glob('/usr/lib/*/faketime/libfaketime.so.1'))"
)


def test_build_images_tags_and_labels_both(client: Any) -> None:
    base = BASE_IMAGE if client.images.list(name=BASE_IMAGE) else "python:3.11-slim"
    tags = build_images(base, WHEELS if WHEELS.is_dir() else None, client=client)
    assert tags == [NODE_IMAGE, PROXY_IMAGE]
    for tag in tags:
        assert client.images.get(tag).labels.get("chaoskit") == "1"


def test_node_image_has_chaoskit_iptables_tc_and_libfaketime(
    client: Any, images: list[str]
) -> None:
    out = client.containers.run(NODE_IMAGE, ["python", "-c", PROBE], remove=True).decode()
    which_iptables, which_tc, faketime = out.strip().split(" ", 2)
    assert which_iptables.endswith("/iptables") and which_tc.endswith("/tc")
    assert "libfaketime.so.1" in faketime


def test_proxy_image_runs_the_proxy_entry_point(client: Any, images: list[str]) -> None:
    out = client.containers.run(PROXY_IMAGE, ["--help"], remove=True).decode()
    assert "--config" in out and "--port" in out
