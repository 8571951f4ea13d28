"""What `pip install chaoskit` puts on a machine: one top-level package, no warnings.

The catalogue keeps its folders at the top of the repository (targets/, nemeses/,
workloads/); installed, they must live inside ``chaoskit`` so that common words never
shadow, or get shadowed by, a user's own folders.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

WARNINGS = ("Warning", "deprecated", "DEPRECATION")


def _pip(*args: str, cwd: Path = ROOT) -> str:
    """This environment's pip (a recent one, which shows the build backend's warnings)."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def _backend_warnings(output: str) -> list[str]:
    """Lines of the build backend (setuptools) that warn; pip's own index notes aside."""
    return [
        line
        for line in output.splitlines()
        if any(w in line for w in WARNINGS) and "Location" not in line and "index" not in line
    ]


def test_the_wheel_installs_only_chaoskit(tmp_path: Path) -> None:
    output = _pip("wheel", "--no-deps", "--wheel-dir", str(tmp_path), str(ROOT))
    assert not _backend_warnings(output), _backend_warnings(output)
    (wheel,) = tmp_path.glob("chaoskit-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        top = {name.split("/")[0] for name in names}
        (dist_info,) = [t for t in top if t.endswith(".dist-info")]
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    assert top == {"chaoskit", dist_info}
    for package in ("targets", "nemeses", "workloads"):
        assert f"chaoskit/{package}/__init__.py" in names
    assert "chaoskit/targets/raft/__main__.py" in names
    assert "chaoskit/report/templates/page.html" in names
    parser = configparser.ConfigParser()
    parser.read_string(entry_points)
    assert dict(parser["console_scripts"]) == {"chaoskit": "chaoskit.cli.main:main"}
    assert dict(parser["pytest11"]) == {"chaoskit": "chaoskit.pytest_plugin"}
    for group in ("chaoskit.targets", "chaoskit.nemeses", "chaoskit.workloads"):
        for name, ref in parser[group].items():
            assert ref.startswith("chaoskit."), f"{group} {name} = {ref}"


def test_an_editable_install_prints_no_warning(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(venv)],
        check=True,
    )
    python = str(venv / "bin" / "python")
    output = _pip("--python", python, "install", "--no-deps", "-e", str(ROOT))
    assert not _backend_warnings(output), _backend_warnings(output)
    probe = subprocess.run(
        [python, "-c", "import chaoskit.targets.raft as r; print(r.__file__)"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip().endswith("targets/raft/__init__.py")
