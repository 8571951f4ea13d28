"""The public API the lead calls, and nothing else."""

from __future__ import annotations

import chaoskit.report


def test_public_api() -> None:
    assert sorted(chaoskit.report.__all__) == [
        "make_app",
        "serve",
        "write_junit",
        "write_run_report",
    ]
    for name in chaoskit.report.__all__:
        assert callable(getattr(chaoskit.report, name))
