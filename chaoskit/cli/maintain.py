"""Commands that look after the machine: images for the Docker runtime, cleanup."""

from __future__ import annotations

import sys
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
@click.option(
    "--inventory",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Clean the hosts of this SSH inventory instead: processes, iptables rules, netem "
    "qdiscs, host clocks and files of runs whose controller is gone (or of --run-id).",
)
def cleanup(run_id: str | None, inventory: Path | None) -> None:
    """Remove what killed runs left behind: processes, containers, networks, fault file
    system mounts, and what registered ssh runs left on their hosts (or every run on the
    hosts of --inventory)."""
    from chaoskit.disk.mounts import cleanup_disks
    from chaoskit.remote.cleanup import cleanup_inventory, cleanup_registered, failed
    from chaoskit.runtimes.cleanup import cleanup_leftovers

    if inventory is None:
        lines = cleanup_leftovers(run_id, remote=cleanup_registered, also=[cleanup_disks])
    else:
        lines = cleanup_inventory(inventory, run_id)
        if not any(failed(line) for line in lines):
            lines += _forget_cleaned(inventory, run_id)
    for line in lines:
        out.print(line, markup=False, highlight=False, soft_wrap=True)
    if any(failed(line) for line in lines):
        sys.exit(2)


def _forget_cleaned(inventory: Path, run_id: str | None) -> list[str]:
    """Registered runs of ``inventory`` that were just cleaned on its hosts: their local
    side too (mark abandoned, leave the registry), and nothing of any other run."""
    from chaoskit.runtimes.cleanup import cleanup_leftovers
    from chaoskit.runtimes.registry import orphaned, read

    runs = [r for r in [read(run_id)] if r is not None] if run_id else orphaned()
    lines: list[str] = []
    for run in runs:
        if run.inventory == str(inventory.resolve()) and run.inventory_table is None:
            done = cleanup_leftovers(run.run_id, remote=lambda _run: ([], True))
            lines += [line for line in done if line.startswith(("killed", "removed", "marked"))]
    return lines
