"""Fixtures: stores filled with synthetic runs of realistic shape."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.synthetic import SyntheticSpec, write_synthetic_run


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def bad_run(store: Path) -> Path:
    """A run with a stale leader overlapping its successor and a stalled election."""
    spec = SyntheticSpec(seed=3, split_brain=True, stalled=True, nemeses=("partition", "kill"))
    return write_synthetic_run(store, spec)


@pytest.fixture
def good_run(store: Path) -> Path:
    spec = SyntheticSpec(
        seed=4, target="bully", nemeses=("kill",), started_at=datetime(2026, 1, 2, tzinfo=UTC)
    )
    return write_synthetic_run(store, spec)
