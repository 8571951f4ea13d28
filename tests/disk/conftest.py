"""Fixtures of the disk fault tests: real FUSE mounts, and a check that none is left."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaoskit.disk import DiskFaults, check_fuse_available, fault_mounts
from chaoskit.errors import SetupError


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A short temporary directory: control sockets need paths under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="ckdisk-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def fuse() -> None:
    """Skip (outside CI; under CI a skip fails) where this machine cannot mount FUSE."""
    try:
        check_fuse_available()
    except SetupError as exc:
        pytest.skip(str(exc))


@pytest.fixture
def disk(fuse: None, short_dir: Path) -> Iterator[DiskFaults]:
    """A DiskFaults of a fresh run; after the test, nothing of it may remain."""
    faults = DiskFaults(uuid.uuid4().hex[:10], root=short_dir / "disk")
    yield faults
    faults.unmount_all()
    assert not [m for m in fault_mounts() if m.run_id == faults.run_id]
    assert not faults.run_dir.exists()
