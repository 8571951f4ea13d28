"""The SSH host image: machines to try ``--runtime ssh`` on without other machines.

``chaoskit-sshhost:latest`` (docker/sshhost.Dockerfile) runs sshd with iptables, tc,
libfaketime and chaoskit (so the reference nodes run on it). The test suite starts
several on a Docker network; a user can do the same to see what the ssh runtime
does to a host before pointing it at a staging cluster (docs/remote-hosts.md).

Built like the node image, offline: from wheels on the host, and from the ``.deb``
files of openssh-server and sudo (with what they need beyond the base image), which
``.ci/docker-setup.sh`` downloads with the host's apt. Without those files the build
installs them with apt-get (a stock ``python:3.11-slim`` base with a reachable
mirror)::

    python -m chaoskit.remote.testhosts --base-image chaoskit-base:bookworm \\
        --wheels /var/cache/chaoskit/wheels --debs /var/cache/chaoskit/sshhost-debs
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chaoskit.errors import ChaoskitError, SetupError
from chaoskit.runtimes.images import (
    DEFAULT_BASE_IMAGE,
    IMAGE_LABELS,
    build_wheels,
    chaoskit_wheel,
    docker_client,
    docker_dir,
    docker_errors,
    requirements,
)

SSHHOST_IMAGE = "chaoskit-sshhost:latest"
DOCKERFILE = "sshhost.Dockerfile"
_CONTEXT_FILES = (DOCKERFILE, "sshhost_entry.sh")


def stage_context(wheels_dir: Path, debs_dir: Path | None, dest: Path) -> Path:
    """Lay out the build context: Dockerfile, entry script, ``wheels/``, ``debs/``."""
    wheel = chaoskit_wheel(wheels_dir)
    deps, own, debs = dest / "wheels" / "deps", dest / "wheels" / "chaoskit", dest / "debs"
    for sub in (deps, own, debs):
        if sub.exists():
            shutil.rmtree(sub)
        sub.mkdir(parents=True)
    source = docker_dir()
    for name in _CONTEXT_FILES:
        shutil.copy2(source / name, dest / name)
    shutil.copy2(wheel, own / wheel.name)
    for dep in wheels_dir.glob("*.whl"):
        if dep != wheel:
            shutil.copy2(dep, deps / dep.name)
    (deps / "requirements.txt").write_text("\n".join(requirements(wheel)) + "\n")
    if debs_dir is not None:
        for deb in debs_dir.glob("*.deb"):
            shutil.copy2(deb, debs / deb.name)
    return dest


def build_sshhost_image(
    base_image: str = DEFAULT_BASE_IMAGE,
    wheels_dir: Path | None = None,
    debs_dir: Path | None = None,
    *,
    client: Any = None,
) -> str:
    """Build ``chaoskit-sshhost:latest`` on ``base_image``; return its tag."""
    errors = docker_errors()
    client = client or docker_client()
    with tempfile.TemporaryDirectory(prefix="chaoskit-sshhost-") as tmp:
        if wheels_dir is None:
            wheels_dir = build_wheels(Path(tmp) / "built-wheels")
        context = stage_context(wheels_dir, debs_dir, Path(tmp) / "context")
        try:
            client.images.build(
                path=str(context),
                dockerfile=DOCKERFILE,
                tag=SSHHOST_IMAGE,
                rm=True,
                forcerm=True,
                buildargs={"BASE_IMAGE": base_image},
                labels=IMAGE_LABELS,
            )
        except errors.BuildError as exc:
            lines = [str(c.get("stream", "")).strip() for c in exc.build_log or []]
            tail = " | ".join([*[line for line in lines if line][-3:], str(exc.msg)])
            raise SetupError(f"building {SSHHOST_IMAGE} failed: {tail}") from exc
        except errors.APIError as exc:
            raise SetupError(f"building {SSHHOST_IMAGE} failed: {exc.explanation or exc}") from exc
    client.images.prune(filters={"dangling": True, "label": "chaoskit=1"})
    return SSHHOST_IMAGE


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chaoskit.remote.testhosts``: what ``.ci/docker-setup.sh`` runs."""
    parser = argparse.ArgumentParser(description="Build the chaoskit SSH host image.")
    parser.add_argument("--base-image", default=DEFAULT_BASE_IMAGE)
    parser.add_argument("--wheels", type=Path, default=None, help="directory of wheels")
    parser.add_argument("--debs", type=Path, default=None, help="directory of .deb files")
    args = parser.parse_args(argv)
    try:
        print(build_sshhost_image(args.base_image, args.wheels, args.debs))
    except ChaoskitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
