"""Command ops: validation of the table, exit codes and output mapped to outcomes, and
real commands (exit codes, JSON and plain stdout, a time-out that kills the group)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from chaoskit.clients.command import CommandOp, as_text, parse_output
from chaoskit.core.target import NodeInfo, Outcome
from chaoskit.errors import ConfigError

NODE = NodeInfo("n2", 1, "127.0.0.1", {"client": 7002, "peer": 7102}, Path("/data/n2"))
WHERE = "svc.toml [ops.cas]"


def _op(**table: Any) -> CommandOp:
    return CommandOp.from_table(table, WHERE)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"command": []}, "'command' must be a non-empty list of strings"),
        ({"command": "cli get"}, "'command' must be a non-empty list of strings"),
        ({"command": ["cli", "{nope}"]}, "unknown placeholder {nope}"),
        ({"command": ["cli", "{key"]}, "malformed template"),
        ({"command": ["cli"], "fail_codes": [0]}, "'fail_codes' must be a list of exit codes"),
        ({"command": ["cli"], "fail_codes": [True]}, "'fail_codes' must be a list of exit codes"),
        ({"command": ["cli"], "timeout": 0}, "'timeout' must be a positive number"),
        ({"command": ["cli"], "value": ""}, "'value' must be a dotted JSON path"),
        ({"command": ["cli"], "http": "GET /"}, "unknown field(s) http"),
    ],
)
def test_table_errors_name_the_field(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CommandOp.from_table(table, WHERE)
    assert str(info.value).startswith(WHERE + ": ") and message in str(info.value)


def test_render_fills_node_and_op_fields() -> None:
    op = _op(command=["cli", "{host}:{port}", "{id}", "cas", "{key}", "{from}", "{to}", "{value}"])
    argv = op.render(NODE, {"f": "cas", "key": "k1", "value": [1, "two"]})
    assert argv == ["cli", "127.0.0.1:7002", "n2", "cas", "k1", "1", "two", '[1, "two"]']
    assert _op(command=["{from}"]).render(NODE, {"f": "read", "key": "k"}) == ["null"]


def test_exit_codes_and_output() -> None:
    op = _op(command=["cli"], fail_codes=[3], leader_field="leader", value="data.v")
    assert op.outcome(0, '{"data": {"v": 5}}', "") == Outcome("ok", value=5)
    assert op.outcome(3, '{"leader": "n3"}', "not leader\n") == Outcome(
        "fail", redirect="n3", error="exit 3: not leader"
    )
    assert op.outcome(1, "", "boom\n") == Outcome("info", error="exit 1: boom")
    assert op.outcome(-9, "", "") == Outcome("info", error="signal 9")
    assert parse_output(" 7\n") == 7 and parse_output("garden\n") == "garden"
    assert parse_output("") is None and as_text("w") == "w" and as_text(None) == "null"


@pytest.mark.integration
async def test_real_commands() -> None:
    py = sys.executable
    echo = _op(command=[py, "-c", "import sys; print(sys.argv[1])", "{value}"])
    read = await echo.run(NODE, {"f": "read", "value": {"a": 1}}, 5)
    assert read == Outcome("ok", value={"a": 1})
    word = _op(command=[py, "-c", "print('garden')"])
    assert await word.run(NODE, {"f": "get"}, 5) == Outcome("ok", value="garden")
    exits = [py, "-c", "import sys; print('nope', file=sys.stderr); sys.exit(int(sys.argv[1]))"]
    refusing = _op(command=[*exits, "{value}"], fail_codes=[4])
    assert await refusing.run(NODE, {"f": "write", "value": 4}, 5) == Outcome(
        "fail", error="exit 4: nope"
    )
    assert (await refusing.run(NODE, {"f": "write", "value": 5}, 5)).type == "info"
    missing = _op(command=["/nonexistent/chaoskit-cli"])
    outcome = await missing.run(NODE, {"f": "write", "value": 1}, 5)
    assert outcome.type == "fail" and "cannot run" in str(outcome.error)


@pytest.mark.integration
async def test_a_time_out_kills_the_whole_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    script = (
        "import subprocess, sys, time; "
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); "
        f"open({str(pidfile)!r}, 'w').write(str(child.pid)); time.sleep(600)"
    )
    op = _op(command=[sys.executable, "-c", script], timeout=1.0)
    started = time.monotonic()
    outcome = await op.run(NODE, {"f": "write", "value": 1}, 30)
    assert outcome.type == "info" and "timeout" in str(outcome.error)
    assert time.monotonic() - started < 10
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the command's child outlived the time-out"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed but not yet reaped by init, counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")
