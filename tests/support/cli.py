"""The ``chaoskit`` command line in-process, as a user's shell would see it.

``chaoskit.cli.main.main`` (not click's ``invoke``, which would skip chaoskit's own
error handling) runs inside click's test runner isolation, so stdout and stderr are
captured separately and ``sys.exit`` gives the exit status. Much faster than a
process per call, which is what the fuzz tests need; real runs still belong in a
process (tests/reliability/conftest.py ``Session``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from chaoskit.cli.main import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout and stderr with line wrapping undone (rich wraps long lines)."""
        return " ".join((self.out + "\n" + self.err).split())

    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@contextmanager
def _cwd(path: Path | None) -> Iterator[None]:
    if path is None:
        yield
        return
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def chaoskit(*argv: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> CliResult:
    """Run ``chaoskit ARGV...`` in this process; its exit status and output. ``env`` is
    set for the call only (``CHAOSKIT_STATE_DIR``, say)."""
    runner = CliRunner()
    environ = {"COLUMNS": "200", **(env or {})}
    with runner.isolation(env=environ) as (out, err, _), _cwd(cwd):
        try:
            main(list(argv))
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        stdout = out.getvalue().decode("utf-8", "replace")
        stderr = err.getvalue().decode("utf-8", "replace")
    return CliResult(code, stdout, stderr)
