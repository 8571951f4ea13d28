"""The example tcpkv service (examples/tcpkv) as users get it: its own spec file."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaoskit.spec.loader import SpecTarget, load_spec_target

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tcpkv"


@pytest.fixture
def tcpkv_target() -> SpecTarget:
    """examples/tcpkv/tcpkv.toml: client port and peer port, the probe and the client
    class loaded from the example's folder, as ``chaoskit run --target`` loads them."""
    return load_spec_target(EXAMPLE / "tcpkv.toml")
