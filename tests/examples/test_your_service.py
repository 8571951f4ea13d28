"""docs/your-service.md is true: its files are the example's files, its error line is
what chaoskit prints, and its ``chaoskit run`` commands, run exactly as written against
examples/tcpkv, find what the page says they find (the service is unsafe on purpose)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "your-service.md"
EXAMPLE = REPO / "examples" / "tcpkv"
FILES = ("tcpkv_probe.py", "tcpkv_client.py", "tcpkv.toml")


def _commands() -> list[str]:
    """Every ``$ chaoskit run ...`` line of the page's console blocks."""
    text = PAGE.read_text(encoding="utf-8")
    return re.findall(r"^\$ (chaoskit run .+)$", text, flags=re.MULTILINE)


def _chaoskit(cwd: Path, argv: list[str], timeout: float = 400) -> subprocess.CompletedProcess[str]:
    """``chaoskit ...`` as a user types it, in ``cwd``, with this checkout importable and
    its own registry of runs (other runs on the machine are not this test's)."""
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200", CHAOSKIT_STATE_DIR=str(cwd))
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    assert argv[0] == "chaoskit"
    return subprocess.run(
        [sys.executable, "-m", "chaoskit", *argv[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=env,
    )


def test_the_page_shows_the_example_files_as_they_are() -> None:
    page = PAGE.read_text(encoding="utf-8")
    for name in FILES:
        text = (EXAMPLE / name).read_text(encoding="utf-8").strip()
        assert text in page, f"docs/your-service.md does not show {name} as it is"
    client = (EXAMPLE / "tcpkv_client.py").read_text(encoding="utf-8")
    assert len(client.splitlines()) <= 35, "the client class is meant to stay about 30 lines"


@pytest.mark.integration
def test_the_error_line_is_what_chaoskit_prints(tmp_path: Path) -> None:
    page = PAGE.read_text(encoding="utf-8")
    shown = re.search(r"^error: <repo>/examples/tcpkv/tcpkv.toml .+$", page, flags=re.MULTILINE)
    assert shown is not None
    copy = tmp_path / "examples" / "tcpkv"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    spec = copy / "tcpkv.toml"
    typo = spec.read_text().replace('"{host}:{ports.client}"', '"{host}:{ports.clinet}"')
    spec.write_text(typo)
    proc = _chaoskit(tmp_path, ["chaoskit", "run", "--target", "examples/tcpkv/tcpkv.toml"])
    # (Other runs on a shared machine may add a warning about their leftovers.)
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("warning:")]
    expected = shown.group(0).replace("<repo>", str(tmp_path))
    assert proc.returncode == 2 and errors == [expected], proc.stderr
    assert not (tmp_path / "runs").exists()


def _results(run_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    return data


def _records(run_dir: Path, name: str) -> list[dict[str, Any]]:
    lines = (run_dir / name).read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@pytest.mark.integration
@pytest.mark.timeout(600)
@pytest.mark.parametrize("command", _commands(), ids=lambda c: c.split("--workload ")[1][:8])
def test_the_walkthrough_commands_find_what_the_page_says(command: str, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(REPO / "examples")  # the exact files, by the page's path
    argv = shlex.split(command)
    proc = _chaoskit(tmp_path, argv)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 1, proc.stdout + proc.stderr  # tcpkv is unsafe: always a finding
    run_dir = (tmp_path / "runs" / "latest").resolve()
    results = _results(run_dir)
    checkers = results["checkers"]
    assert not results.get("incomplete")
    config = json.loads((run_dir / "config.json").read_text())
    assert (config["ready"], config["settle_s"]) == ("leader", 2.0)
    assert config["ready_s"] is not None
    start = next(r for r in _records(run_dir, "nemesis.jsonl") if r["type"] == "start")
    workload = argv[argv.index("--workload") + 1]
    history = _records(run_dir, "history.jsonl")
    assert {r["f"] for r in history if r["type"] == "ok"} >= {
        "register": {"read", "write", "cas"},
        "kv": {"get", "put"},
        "set": {"add", "read-set"},
    }[workload]
    if workload == "set":
        # kill-leader: n1 comes back empty and leads again; its final read lacks
        # what it acknowledged before.
        assert start["targets"] == ["n1"] and start["roles"] == {"n1": "leader"}
        lost = checkers["lost-writes"]
        assert lost["valid"] is False and lost["metrics"]["lost"] > 0, lost["metrics"]
    else:
        # A partition or an isolated leader: both sides lead, no quorum stops them.
        brain = checkers["split-brain"]
        assert brain["valid"] is False
        assert any(start["fault"] in a["message"] for a in brain["anomalies"]), brain
        assert checkers["linearizable"]["valid"] in (True, False)
    if workload == "register":
        assert checkers["linearizable"]["valid"] is False  # writes on both sides
