"""The public API is exactly what __all__ promises, and typed."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import chaoskit

EXPECTED = {
    "CheckResult",
    "Checker",
    "Client",
    "Clock",
    "ChaoskitError",
    "ConfigError",
    "Fault",
    "HistoryFormatError",
    "Launch",
    "Nemesis",
    "NemesisContext",
    "NemesisSpec",
    "Network",
    "NodeInfo",
    "OpFailed",
    "Outcome",
    "Port",
    "ProxyError",
    "RunConfig",
    "RunData",
    "Runtime",
    "SetupError",
    "Status",
    "Target",
    "TargetBase",
    "Workload",
    "__version__",
    "check_run",
    "merge_verdicts",
    "run",
    "run_config",
}


def test_all_is_the_curated_list() -> None:
    assert set(chaoskit.__all__) == EXPECTED
    assert len(chaoskit.__all__) == len(set(chaoskit.__all__))


def test_every_exported_name_is_documented_and_ours() -> None:
    """A user reads the API from its docstrings: each name has one, and is chaoskit's."""
    for name in set(chaoskit.__all__) - {"__version__"}:
        obj = getattr(chaoskit, name)
        assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"
        assert obj.__module__.startswith("chaoskit."), f"{name} comes from {obj.__module__}"


def test_version_is_the_installed_distribution_s() -> None:
    assert chaoskit.__version__ == importlib.metadata.version("chaoskit")


def test_exceptions_share_one_root() -> None:
    for name in ("ConfigError", "SetupError", "ProxyError", "HistoryFormatError"):
        assert issubclass(getattr(chaoskit, name), chaoskit.ChaoskitError)


def test_py_typed_is_shipped() -> None:
    assert (Path(chaoskit.__file__).parent / "py.typed").exists()
