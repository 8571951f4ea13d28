"""Commands that look after the machine: images for the Docker runtime, cleanup."""

from __future__ import annotations

from pathlib import Path

import click

from chaoskit.cli.console import out


@click.group()
def image() -> None:
    """Docker images of the reference nodes and the fault proxy."""


@image.command("build")
@click.option(
    "--base-image",
    default="python:3.11-slim",
    show_default=True,
    help="Base image with Python 3.11 (a local one when no registry is reachable).",
)
@click.option(
    "--wheels",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Directory of wheels to install offline (default: build them now).",
)
def image_build(base_image: str, wheels: Path | None) -> None:
    """Build the node and proxy images used by --runtime docker and docker-compose.yml."""
    from chaoskit.runtimes.images import build_images

    for tag in build_images(base_image, wheels):
        out.print(f"built {tag}", markup=False, highlight=False)


@click.command()
@click.option("--run-id", default=None, help="Only what this run left (default: every run).")
def cleanup(run_id: str | None) -> None:
    """Remove what killed runs left behind: processes, containers, networks."""
    from chaoskit.runtimes.cleanup import cleanup_leftovers

    for line in cleanup_leftovers(run_id):
        out.print(line, markup=False, highlight=False)
