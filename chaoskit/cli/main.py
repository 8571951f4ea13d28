"""The ``chaoskit`` command line: the group, its commands, and one-line errors.

Every ``ChaoskitError`` becomes one line on stderr and exit status 2; ``run`` and
``check`` exit 0 when every check is valid and 1 when an anomaly was found. The
commands live beside this module: run.py, inspect.py (list, check, check-history,
report, serve), nightly.py, maintain.py (image, cleanup), replay.py, shrink.py;
``chaoskit proxy`` is the fault proxy's own (``chaoskit.proxy``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import click

from chaoskit.cli import inspect, maintain, nightly
from chaoskit.cli.console import err
from chaoskit.cli.replay import replay
from chaoskit.cli.run import run
from chaoskit.cli.shrink import shrink
from chaoskit.errors import ChaoskitError
from chaoskit.proxy._cli import proxy_command

DEBUG_ENV = "CHAOSKIT_DEBUG"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chaoskit")
def cli() -> None:
    """chaoskit: chaos testing for leader-elected services."""


for command in (
    run,
    inspect.list_plugins,
    inspect.check,
    inspect.check_history,
    inspect.report,
    inspect.serve,
    nightly.nightly,
    maintain.image,
    maintain.cleanup,
    replay,
    shrink,
    proxy_command,
):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors and exit status 2 for anything a user can get wrong."""
    _guard(lambda: cli.main(args=argv, prog_name="chaoskit", standalone_mode=False))


def _guard(call: Callable[[], Any]) -> None:
    try:
        call()
    except ChaoskitError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(2)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(2)
    except Exception as exc:  # a bug is still one line and never status 1
        # An uncaught exception would exit 1, which means "anomaly found"; a bug must
        # not read as a finding. CHAOSKIT_DEBUG=1 shows the traceback for a report.
        if os.environ.get(DEBUG_ENV):
            raise
        err.print(
            f"internal error (a bug in chaoskit; {DEBUG_ENV}=1 shows where): "
            f"{type(exc).__name__}: {exc}",
            markup=False,
            highlight=False,
        )
        sys.exit(2)
