"""``chaoskit proxy``: run the embedded Toxiproxy-compatible server in the foreground.

The lead's top-level CLI adds ``proxy_command`` to its group; ``python -m
chaoskit.proxy`` runs the same command on its own.

There is deliberately no ``--token VALUE``: a command line is world-readable in
``/proc/PID/cmdline``. The token comes from a file only its owner can read
(``--token-file``) or from the environment (``CHAOSKIT_PROXY_TOKEN``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import click

from chaoskit.errors import ChaoskitError, ConfigError
from chaoskit.proxy._policy import Policy
from chaoskit.proxy._server import serve

TOKEN_ENV = "CHAOSKIT_PROXY_TOKEN"


def read_token_file(path: Path) -> str:
    """The token in ``path`` (first line); ConfigError if others may read the file."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read token file {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"token file {path} is accessible to other users (mode {stat.S_IMODE(mode):04o}): "
            f"chmod 600 {path}"
        )
    lines = text.splitlines()
    token = lines[0].strip() if lines else ""
    if not token:
        raise ConfigError(f"token file {path} is empty")
    return token


def token_from(token_file: Path | None) -> str | None:
    """``--token-file``, else ``CHAOSKIT_PROXY_TOKEN`` (taken out of the environment,
    so nothing started later inherits it), else None: no token."""
    from_env = os.environ.pop(TOKEN_ENV, None)
    if token_file is not None:
        return read_token_file(token_file)
    return from_env.strip() if from_env and from_env.strip() else None


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
@click.option(
    "--token-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help=f"Require the token in this file (mode 600) on every request; "
    f"or set {TOKEN_ENV}. Without either, no token: loopback clients only.",
)
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    metavar="NAME",
    help="Also accept this Host header name (loopback names always are).",
)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    metavar="ORIGIN",
    help="Accept requests carrying this Origin (browsers send one; refused by default).",
)
@click.option(
    "--allow-remote-listen",
    is_flag=True,
    help="Allow non-loopback addresses for the API (--host) and for proxies' listen.",
)
@click.option(
    "--allow-upstream",
    "allow_upstreams",
    multiple=True,
    metavar="CIDR|NAME",
    help="Allow only loopback and these upstreams (CIDR, or host name with * wildcards).",
)
@click.option(
    "--allow-metadata-upstream",
    is_flag=True,
    help="Allow link-local and cloud metadata upstreams (169.254.0.0/16, fe80::/10, ...).",
)
@click.option(
    "--allow-client",
    "allow_clients",
    multiple=True,
    metavar="CIDR",
    help="Accept API connections only from these networks (default: any).",
)
def proxy_command(
    host: str,
    port: int,
    seed: int,
    token_file: Path | None,
    allow_hosts: tuple[str, ...],
    allow_origins: tuple[str, ...],
    allow_remote_listen: bool,
    allow_upstreams: tuple[str, ...],
    allow_metadata_upstream: bool,
    allow_clients: tuple[str, ...],
) -> None:
    """Serve the Toxiproxy HTTP API until Ctrl-C."""
    try:
        policy = Policy.build(
            allow_hosts=allow_hosts,
            allow_origins=allow_origins,
            allow_remote_listen=allow_remote_listen,
            allow_upstreams=allow_upstreams or None,
            allow_metadata_upstream=allow_metadata_upstream,
            allow_clients=allow_clients or None,
        )
        serve(host, port, seed, token=token_from(token_file), policy=policy)
    except ChaoskitError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
