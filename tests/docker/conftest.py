"""Fixtures of the Docker tests: an engine, the images, a run id with nothing left behind.

Without an engine these tests skip on a laptop (run ``.ci/docker-setup.sh`` first to
include them); under ``CI=true`` the suite turns every skip into a failure, so CI (which
prepares the engine and images with ``.ci/docker-setup.sh``) always runs them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaoskit.runtimes.containers import leftovers, remove_run
from chaoskit.runtimes.images import NODE_IMAGE, PROXY_IMAGE, build_images, docker_client
from tests.support.eventually import async_eventually as wait_for  # noqa: F401 - for the tests

BASE_IMAGE = os.environ.get("CHAOSKIT_BASE_IMAGE", "chaoskit-base:bookworm")
WHEELS = Path(os.environ.get("CHAOSKIT_CACHE", "/var/cache/chaoskit")) / "wheels"


@pytest.fixture(scope="session")
def client() -> Any:
    from chaoskit.errors import SetupError

    try:
        return docker_client()
    except SetupError as exc:
        pytest.skip(f"{exc}; run .ci/docker-setup.sh to include the Docker tests")


@pytest.fixture(scope="session")
def images(client: Any) -> list[str]:
    """The node and proxy images; built now when absent (on the offline base if present)."""
    tags = [NODE_IMAGE, PROXY_IMAGE]
    if all(client.images.list(name=tag) for tag in tags):
        return tags
    base = BASE_IMAGE if client.images.list(name=BASE_IMAGE) else "python:3.11-slim"
    return build_images(base, WHEELS if WHEELS.is_dir() else None, client=client)


@pytest.fixture
def run_id(client: Any) -> Iterator[str]:
    """A fresh run id; afterwards nothing labelled with it may remain."""
    rid = f"t{uuid.uuid4().hex[:8]}"
    yield rid
    left = leftovers(rid, client=client)
    remove_run(client, rid)
    assert left == [], f"run {rid} left {left}"


@pytest.fixture(params=["v1", "v2"])
def compose_cli(request: pytest.FixtureRequest) -> list[str]:
    """The Compose CLI to drive ``docker-compose.yml`` with: each test runs under both."""
    from ._compose import CLIS, installed_version

    flavour: str = request.param
    if installed_version(flavour) is None:
        pytest.skip(f"Compose {flavour} ({' '.join(CLIS[flavour])}) is not installed")
    return list(CLIS[flavour])
