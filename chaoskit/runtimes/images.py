"""Build the node and proxy images from wheels, through the docker SDK.

Why wheels: no image registry and no package index may be reachable from inside a
build, so chaoskit and every dependency are built into wheels on the host and
copied into the build context; the images install them with ``--no-index``. The
Dockerfiles live in ``docker/`` of a chaoskit checkout and take the base image as
the ``BASE_IMAGE`` build argument (a stock ``python:3.11-slim`` by default, the
offline ``chaoskit-base:bookworm`` in CI).

The build context laid out here (and by ``--stage`` for docker-compose)::

    node.Dockerfile  proxy.Dockerfile  proxy_entry.py
    wheels/deps/*.whl + requirements.txt     every dependency, pinned to those wheels
    wheels/chaoskit/chaoskit-*.whl           chaoskit itself (its own layer)

Example::

    build_images("chaoskit-base:bookworm", Path("/var/cache/chaoskit/wheels"))
"""

from __future__ import annotations

import argparse
import email.parser
import importlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from chaoskit.errors import ConfigError, SetupError

NODE_IMAGE = "chaoskit-node:latest"
PROXY_IMAGE = "chaoskit-proxy:latest"
DEFAULT_BASE_IMAGE = "python:3.11-slim"
#: Where the node image keeps libfaketime (a link made in docker/node.Dockerfile, so the
#: path does not depend on the image's architecture).
LIBFAKETIME_IN_IMAGE = "/opt/chaoskit/libfaketime.so.1"
#: Where the run's clock directory (one timestamp file per node) appears in a node.
CLOCK_DIR_IN_NODE = "/run/chaoskit-clock"
#: What the target's Python becomes inside an image (``image_argv``).
PYTHON_IN_IMAGE = "python"
IMAGE_LABELS = {"chaoskit": "1"}
#: Dockerfile -> tag of the image built from it.
IMAGES = {"node.Dockerfile": NODE_IMAGE, "proxy.Dockerfile": PROXY_IMAGE}
_CONTEXT_FILES = ("node.Dockerfile", "proxy.Dockerfile", "proxy_entry.py")


def docker_dir() -> Path:
    """The ``docker/`` directory of the chaoskit checkout this module was loaded from."""
    path = Path(__file__).resolve().parents[2] / "docker"
    if not (path / "node.Dockerfile").is_file():
        raise SetupError(
            f"the Dockerfiles are not at {path}: build images from a chaoskit checkout"
        )
    return path


def build_wheels(dest: Path, source: Path | None = None) -> Path:
    """``pip wheel`` chaoskit (from ``source``, a checkout) and its dependencies into ``dest``."""
    source = source or docker_dir().parent
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("chaoskit-*.whl"):
        old.unlink()
    cmd = [sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(dest), str(source)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise SetupError(f"pip wheel failed: {tail[0]}")
    return dest


def chaoskit_wheel(wheels_dir: Path) -> Path:
    """The single chaoskit wheel in ``wheels_dir``; a ``SetupError`` when absent or ambiguous."""
    found = sorted(wheels_dir.glob("chaoskit-*.whl"))
    if len(found) != 1:
        raise SetupError(f"expected exactly one chaoskit wheel in {wheels_dir}, found {len(found)}")
    return found[0]


def requirements(wheel: Path) -> list[str]:
    """The unconditional ``Requires-Dist`` lines of a wheel (extras and markers left out)."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(name).decode())
    return [req for req in meta.get_all("Requires-Dist") or [] if ";" not in req]


def stage_context(wheels_dir: Path, dest: Path) -> Path:
    """Lay out a build context in ``dest`` (see the module docstring); returns ``dest``."""
    wheel = chaoskit_wheel(wheels_dir)
    deps, own = dest / "wheels" / "deps", dest / "wheels" / "chaoskit"
    for sub in (deps, own):
        if sub.exists():
            shutil.rmtree(sub)
        sub.mkdir(parents=True)
    source = docker_dir()
    if source.resolve() != dest.resolve():
        for name in _CONTEXT_FILES:
            shutil.copy2(source / name, dest / name)
    shutil.copy2(wheel, own / wheel.name)
    for dep in wheels_dir.glob("*.whl"):
        if dep != wheel:
            shutil.copy2(dep, deps / dep.name)
    (deps / "requirements.txt").write_text("\n".join(requirements(wheel)) + "\n")
    return dest


def build_images(
    base_image: str = DEFAULT_BASE_IMAGE,
    wheels_dir: Path | None = None,
    *,
    client: Any = None,
    stage: Path | None = None,
) -> list[str]:
    """Build the node and proxy images on ``base_image``; return their tags.

    ``wheels_dir`` holds chaoskit's wheel and its dependencies' wheels; when ``None``
    they are built now with ``pip wheel`` (which needs a reachable package index).
    ``stage`` keeps the build context there (``docker/`` makes docker-compose's own
    ``build:`` work); otherwise a temporary directory is used and removed.
    """
    errors = docker_errors()
    client = client or docker_client()
    with tempfile.TemporaryDirectory(prefix="chaoskit-build-") as tmp:
        if wheels_dir is None:
            wheels_dir = build_wheels(Path(tmp) / "built-wheels")
        context = stage_context(wheels_dir, stage or Path(tmp) / "context")
        tags = []
        for dockerfile, tag in IMAGES.items():
            try:
                client.images.build(
                    path=str(context),
                    dockerfile=dockerfile,
                    tag=tag,
                    rm=True,
                    forcerm=True,
                    buildargs={"BASE_IMAGE": base_image},
                    labels=IMAGE_LABELS,
                )
            except errors.BuildError as exc:
                raise SetupError(f"building {tag} failed: {_build_failure(exc)}") from exc
            except errors.APIError as exc:
                raise SetupError(f"building {tag} failed: {exc.explanation or exc}") from exc
            tags.append(tag)
    # The tags moved to the new images: drop the old ones chaoskit built, nothing else.
    client.images.prune(filters={"dangling": True, "label": "chaoskit=1"})
    return tags


def _build_failure(exc: Any) -> str:
    """The last lines the build printed: where the reason for the failure is."""
    lines = [str(chunk.get("stream", "")).strip() for chunk in exc.build_log or []]
    lines = [line for line in lines if line]
    return " | ".join([*lines[-3:], str(exc.msg)])


def docker_sdk() -> Any:
    """The docker SDK module, imported when first needed.

    Imported by name because the checkout's own ``docker/`` directory (Dockerfiles)
    would otherwise pass for it in type checkers run from the repository root.
    """
    return importlib.import_module("docker")


def docker_errors() -> Any:
    return importlib.import_module("docker.errors")


def docker_client() -> Any:
    """A docker SDK client from the environment; a ``SetupError`` when no engine answers."""
    try:
        client = docker_sdk().from_env(version="auto")
        client.ping()
    except docker_errors().DockerException as exc:
        raise SetupError(f"no Docker engine answers (is dockerd running?): {exc}") from exc
    return client


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m chaoskit.runtimes.images``: what ``.ci/docker-setup.sh`` runs."""
    parser = argparse.ArgumentParser(description="Build the chaoskit node and proxy images.")
    parser.add_argument("--base-image", default=DEFAULT_BASE_IMAGE)
    parser.add_argument("--wheels", type=Path, default=None, help="directory of wheels")
    parser.add_argument("--stage", type=Path, default=None, help="keep the context here")
    args = parser.parse_args(argv)
    for tag in build_images(args.base_image, args.wheels, stage=args.stage):
        print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())


def clock_env(env: Mapping[str, str], clock: Mapping[str, str]) -> dict[str, str]:
    """The node's environment with the clock's libfaketime settings merged in.

    Preloads are joined, and an inherited ``FAKETIME`` would override the node's file.
    """
    out = dict(env)
    for key, value in clock.items():
        out[key] = f"{value}:{out[key]}" if key == "LD_PRELOAD" and out.get(key) else value
    out.pop("FAKETIME", None)
    return out


def image_argv(argv: list[str]) -> list[str]:
    """The target's argv as run in the image: the host's Python becomes the image's."""
    if not argv:
        raise ConfigError("the target gave an empty command line")
    first = Path(argv[0])
    if argv[0] == sys.executable or first.name.startswith("python"):
        return [PYTHON_IN_IMAGE, *argv[1:]]
    return list(argv)
