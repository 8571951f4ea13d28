"""Load ``benchmarks/detection.py`` (a script, not a package) for the detection tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "detection.py"


def load_detection() -> ModuleType:
    """The benchmark module, imported once under the name ``chaoskit_detection_bench``."""
    name = "chaoskit_detection_bench"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def detection() -> ModuleType:
    return load_detection()
