"""The public API is exactly what __all__ promises, and typed."""

from __future__ import annotations

from pathlib import Path

import chaoskit

EXPECTED = {
    "CheckResult",
    "Checker",
    "ChaoskitError",
    "ConfigError",
    "Fault",
    "HistoryFormatError",
    "Launch",
    "Nemesis",
    "NemesisContext",
    "NemesisSpec",
    "NodeInfo",
    "Outcome",
    "ProxyError",
    "RunConfig",
    "RunData",
    "Runtime",
    "SetupError",
    "Status",
    "Target",
    "Workload",
    "__version__",
    "check_run",
    "merge_verdicts",
    "run",
}


def test_all_is_the_curated_list() -> None:
    assert set(chaoskit.__all__) == EXPECTED
    assert len(chaoskit.__all__) == len(set(chaoskit.__all__))


def test_every_exported_name_exists() -> None:
    for name in chaoskit.__all__:
        assert getattr(chaoskit, name) is not None, name


def test_exceptions_share_one_root() -> None:
    for name in ("ConfigError", "SetupError", "ProxyError", "HistoryFormatError"):
        assert issubclass(getattr(chaoskit, name), chaoskit.ChaoskitError)


def test_py_typed_is_shipped() -> None:
    assert (Path(chaoskit.__file__).parent / "py.typed").exists()
