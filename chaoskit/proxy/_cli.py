"""``chaoskit proxy``: run the embedded Toxiproxy-compatible server in the foreground.

The lead's top-level CLI adds ``proxy_command`` to its group; ``python -m
chaoskit.proxy`` runs the same command on its own.
"""

from __future__ import annotations

import click

from chaoskit.errors import ChaoskitError
from chaoskit.proxy._server import serve


@click.command("proxy")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option(
    "--port",
    default=8474,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="API port (Toxiproxy's default; 0 picks a free one).",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Seed of jitter, slicer and toxicity draws.",
)
def proxy_command(host: str, port: int, seed: int) -> None:
    """Serve the Toxiproxy HTTP API until Ctrl-C."""
    try:
        serve(host, port, seed)
    except ChaoskitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
