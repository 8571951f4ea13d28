"""A bad client class in a spec file, through a real ``chaoskit run`` of the tcpkv
service: a class that cannot be used is one line naming the spec file and the class
(exit 2, nothing started); a class that raises or hangs in ``invoke`` makes ``info``
operations, and the run still ends with a verdict; never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]
REPO = Path(__file__).resolve().parents[2]
SERVER = REPO / "examples" / "tcpkv" / "tcpkv_server.py"

#: tcpkv with the client class and folder under test (the example's probe is reused).
SPEC = f"""
name = "badclient"
election_timeout = 0.5
workloads = ["none", "register"]
[ports]
client = {{}}
peer = {{ peer = true }}
[launch]
argv = ["{sys.executable}", "{SERVER}", "--id", "{{id}}", "--client", "{{host}}:{{ports.client}}",
        "--peer", "{{host}}:{{ports.peer}}", "--peers", "{{peers}}"]
peer_format = "{{peer.id}}={{peer}}"
[status]
python = "tcpkv_probe:status"
role = "role"
[client]
python = "badclient:{{cls}}"
"""

CLASSES = """
import time


class NoClose:
    def open(self, node): pass
    def invoke(self, op): return None


class Raising:
    def open(self, node): pass
    def invoke(self, op):
        raise RuntimeError("the wire format changed")
    def close(self): pass


class Hanging:
    def open(self, node): pass
    def invoke(self, op):
        time.sleep(3600)  # a sync call that never returns: chaoskit must not wait for it
    def close(self): pass
"""


def _run(tmp_path: Path, cls: str, module: str = CLASSES) -> subprocess.CompletedProcess[str]:
    (tmp_path / "badclient.py").write_text(textwrap.dedent(module))
    probe = REPO / "examples" / "tcpkv" / "tcpkv_probe.py"
    (tmp_path / "tcpkv_probe.py").write_text(probe.read_text())
    spec = tmp_path / "bad.toml"
    spec.write_text(SPEC.replace("{cls}", cls))
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="200", CHAOSKIT_STATE_DIR=str(tmp_path))
    argv = [sys.executable, "-m", "chaoskit", "run", "--target", str(spec), "--nodes", "3",
            "--workload", "register", "--nemesis", "none", "--time-limit", "3",
            "--no-progress"]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=200, cwd=tmp_path, env=env)


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    # (Other runs on a shared machine may add a warning about their leftovers.)
    lines = [line for line in proc.stderr.splitlines() if line and not line.startswith("warning:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def _history(tmp_path: Path) -> list[dict[str, Any]]:
    run_dir = (tmp_path / "runs" / "latest").resolve()
    text = (run_dir / "history.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_import_error_is_one_line_naming_spec_and_class(tmp_path: Path) -> None:
    line = _one_line_error(_run(tmp_path, "Raising", module="import no_such_dependency_zz\n"))
    assert f"{tmp_path / 'bad.toml'} [client]: client class 'badclient:Raising'" in line
    assert "No module named 'no_such_dependency_zz'" in line
    assert not (tmp_path / "runs").exists()  # nothing was started


def test_missing_method_is_one_line_naming_spec_and_class(tmp_path: Path) -> None:
    line = _one_line_error(_run(tmp_path, "NoClose"))
    assert f"{tmp_path / 'bad.toml'} [client]: client class 'badclient:NoClose'" in line
    assert "has no method close()" in line


def test_exception_in_invoke_makes_info_ops_and_a_verdict(tmp_path: Path) -> None:
    proc = _run(tmp_path, "Raising")
    assert proc.returncode in (0, 1, 2) and "Traceback" not in proc.stderr, proc.stderr
    done = [r for r in _history(tmp_path) if r["type"] != "invoke"]
    assert done and {r["type"] for r in done} == {"info"}
    assert all(r["error"] == "RuntimeError: the wire format changed" for r in done)
    # Each info retires its process: the next op of that client has a new number.
    assert len({r["process"] for r in done}) == len(done)
    results = json.loads(((tmp_path / "runs" / "latest") / "results.json").read_text())
    assert "linearizable" in results["checkers"] and not results.get("incomplete")


def test_hanging_invoke_times_out_as_info(tmp_path: Path) -> None:
    proc = _run(tmp_path, "Hanging")
    assert "Traceback" not in proc.stderr, proc.stderr
    done = [r for r in _history(tmp_path) if r["type"] != "invoke"]
    assert done and all(r["type"] == "info" for r in done)
    assert all(r["error"].startswith("timeout: no answer within") for r in done), done
    results = json.loads(((tmp_path / "runs" / "latest") / "results.json").read_text())
    assert not results.get("incomplete"), results
