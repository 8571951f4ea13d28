"""``chaoskit run``: its options are generated from the run settings table."""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable
from typing import Any

import click

from chaoskit.cli.console import err, out, run_async
from chaoskit.cli.summary import print_summary
from chaoskit.run.settings import SETTINGS, config_from_cli, repeat_command
from chaoskit.run.values import Setting


def _option(setting: Setting) -> Callable[[Any], Any]:
    """The click option of one setting. Values reach ``config_from_cli`` as given, so
    the CLI, the pytest marker and a nightly matrix refuse bad values with one message."""
    decls = [setting.cli_flag, *([setting.short] if setting.short else []), setting.key]
    shown = f" [default: {setting.shown_default}]" if setting.shown_default else ""
    if setting.flag_value is not None:
        return click.option(*decls, flag_value=setting.flag_value, default=None, help=setting.help)
    return click.option(
        *decls,
        default=None,
        multiple=setting.repeated,
        metavar=setting.metavar or setting.key.upper(),
        help=setting.help + shown,
    )


def with_settings(command: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate ``command`` with an option per run setting, in the table's order."""
    for setting in reversed(SETTINGS):
        command = _option(setting)(command)
    return command


@click.command()
@with_settings
def run(**params: Any) -> None:
    """Launch a cluster, inject faults, record everything, check it."""
    from chaoskit.run.controller import execute
    from chaoskit.runtimes.cleanup import leftover_warning

    warning = leftover_warning()
    if warning:
        err.print(f"warning: {warning}", markup=False)
    config = config_from_cli(params)
    config.validate()
    result = run_async(execute(config))
    print_summary(
        out, result.run_dir, result.results, seed=config.seed, command=repeat_command(config)
    )
    # Everything is written; the interpreter's last collection at exit would walk every
    # object the run and matplotlib left (a few tenths of a second of CPU): skip it.
    gc.freeze()
    if result.interrupted:
        err.print(
            f"run interrupted; partial run stored in {result.run_dir}",
            markup=False,
            highlight=False,
        )
    elif result.error:
        err.print(f"error: {result.error}", markup=False, highlight=False)
    sys.exit(result.exit_code)
