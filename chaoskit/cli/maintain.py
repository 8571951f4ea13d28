"""Commands that look after the machine: images for the Docker runtime, cleanup."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from chaoskit.cli.console import out

if TYPE_CHECKING:
    from chaoskit.runtimes.registry import ActiveRun


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
        out.print(f"built {tag}")


@click.command()
@click.option("--run-id", default=None, help="Only what this run left (default: every run).")
@click.option(
    "--inventory",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also clean the hosts of this SSH inventory: processes, iptables rules, netem "
    "qdiscs, host clocks and files of runs whose controller is gone (or of --run-id).",
)
def cleanup(run_id: str | None, inventory: Path | None) -> None:
    """Remove what killed runs left behind: processes, containers, networks, and on SSH
    hosts (registered ssh runs, or every run on the hosts of --inventory)."""
    from chaoskit.remote.cleanup import cleanup_inventory, cleanup_registered, failed
    from chaoskit.runtimes.cleanup import cleanup_leftovers

    lines = cleanup_inventory(inventory, run_id) if inventory is not None else []
    cleaned = str(inventory.resolve()) if inventory is not None else None

    def hosts_of(run: ActiveRun) -> tuple[list[str], bool]:
        if cleaned is not None and run.inventory == cleaned and run.inventory_table is None:
            return [], not any(failed(line) for line in lines)  # just done, above
        return cleanup_registered(run)

    lines += cleanup_leftovers(run_id, remote=hosts_of)
    for line in lines:
        out.print(line, markup=False)
    if any(failed(line) for line in lines):
        sys.exit(2)
