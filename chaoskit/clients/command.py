"""Command ops: a workload operation carried out by running the service's own CLI.

A spec's ``[ops.NAME] command = [...]`` is an argv template (never a shell string)::

    [ops.cas]
    command = ["mysvc-cli", "--server", "{host}:{port}", "cas", "{key}", "{from}", "{to}"]
    fail_codes = [3]          # exit codes meaning "certainly did not happen"
    timeout = 5.0             # seconds (default: the run's op time-out)
    value = "data.value"      # optional: dotted path into a JSON stdout
    leader_field = "leader"   # optional: where a refusal's JSON names the leader

Exit 0 is ``ok`` (a read's value is stdout: JSON when it parses, else the stripped
text, None when empty); a code in ``fail_codes`` is ``fail``; any other code, a signal
or a time-out is ``info``, because the command may have done its work before it
failed. A command that cannot be started at all (not found) is ``fail``: nothing ran.
On time-out the whole process group is killed, so a CLI's children do not live on.

Placeholders (chaoskit/clients/templates.py): the node's ``{id}``, ``{index}``,
``{host}``, ``{port}`` (its first port), ``{ports.NAME}`` (each named port),
``{data_dir}``, fixed values the caller adds (a spec's ``{spec_dir}``) and the op's
``{key}``, ``{value}``, ``{from}``, ``{to}`` (the two parts of a compare-and-set).
Values are rendered as text: a string as it is, anything else as JSON (``3``,
``null``, ``[1, 2]``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaoskit.clients.templates import OP_FIELDS, check_template, node_fields, node_values
from chaoskit.core.target import NodeInfo, Outcome
from chaoskit.errors import ConfigError

TABLE_KEYS = frozenset({"command", "fail_codes", "timeout", "value", "leader_field"})
#: How much of stderr an error line keeps.
MAX_ERROR = 200
#: How long to wait for a killed command to be reaped.
REAP_S = 5.0


@dataclass(frozen=True)
class CommandOp:
    """One operation run as a command; see the module docstring for the fields."""

    argv: tuple[str, ...]
    fail_codes: frozenset[int] = frozenset()
    timeout: float | None = None
    value_path: str | None = None
    leader_field: str | None = None
    #: Fixed placeholders (a spec's ``{spec_dir}``), the same for every node and op.
    constants: Mapping[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def from_table(
        cls,
        table: Mapping[str, Any],
        where: str,
        *,
        ports: Iterable[str] = (),
        constants: Mapping[str, str] | None = None,
    ) -> CommandOp:
        """Validate an ``[ops.NAME]`` table with ``command``; ``ConfigError`` naming
        ``where`` (the spec file and table) and the field that is wrong. ``ports``:
        the node's port names (``{ports.NAME}``); ``constants``: fixed placeholders."""
        unknown = sorted(set(table) - TABLE_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
        argv = table.get("command")
        if (
            not isinstance(argv, list)
            or not argv
            or not all(isinstance(a, str) and a for a in argv)
        ):
            raise ConfigError(f"{where}: 'command' must be a non-empty list of strings")
        allowed = node_fields(ports, [*OP_FIELDS, *(constants or {})])
        for item in argv:
            check_template(item, allowed, f"{where}: 'command'")
        codes = table.get("fail_codes", [])
        if not isinstance(codes, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and 0 < c < 256 for c in codes
        ):
            raise ConfigError(f"{where}: 'fail_codes' must be a list of exit codes 1-255")
        timeout = table.get("timeout")
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
        ):
            raise ConfigError(f"{where}: 'timeout' must be a positive number of seconds")
        for key in ("value", "leader_field"):
            if key in table and (not isinstance(table[key], str) or not table[key]):
                raise ConfigError(f"{where}: '{key}' must be a dotted JSON path")
        return cls(
            argv=tuple(argv),
            fail_codes=frozenset(codes),
            timeout=float(timeout) if timeout is not None else None,
            value_path=table.get("value"),
            leader_field=table.get("leader_field"),
            constants=dict(constants or {}),
        )

    def render(self, node: NodeInfo, op: Mapping[str, Any]) -> list[str]:
        """The argv for ``op`` on ``node``."""
        value = op.get("value")
        first: Any = None
        second: Any = None
        if isinstance(value, list | tuple) and len(value) == 2:
            first, second = value  # a compare-and-set: [from, to]
        fields = node_values(node, self.constants)
        fields.update(
            {
                "key": as_text(op.get("key")),
                "value": as_text(value),
                "from": as_text(first),
                "to": as_text(second),
            }
        )
        return [item.format(**fields) for item in self.argv]

    async def run(self, node: NodeInfo, op: Mapping[str, Any], timeout: float) -> Outcome:
        """Run the command for ``op`` and map its exit to an ``Outcome``."""
        limit = self.timeout if self.timeout is not None else timeout
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.render(node, op),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: killed whole on time-out
            )
        except OSError as exc:
            return Outcome("fail", error=f"cannot run {self.argv[0]}: {exc.strerror or exc}")
        try:
            out, err = await asyncio.wait_for(proc.communicate(), limit)
        except TimeoutError:
            _kill_group(proc)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(proc.wait(), REAP_S)
            return Outcome("info", error=f"timeout: {self.argv[0]} ran over {limit:g} s")
        except asyncio.CancelledError:
            _kill_group(proc)  # the run is stopping: leave no command behind
            raise
        text, errors = out.decode(errors="replace"), err.decode(errors="replace")
        return self.outcome(proc.returncode, text, errors)

    def outcome(self, code: int | None, stdout: str, stderr: str) -> Outcome:
        """Exit code and output to an ``Outcome`` (pure: unit-tested without processes)."""
        data = parse_output(stdout)
        if code == 0:
            if self.value_path is not None:
                data = dotted(data, self.value_path)
            return Outcome("ok", value=data)
        error = _last_line(stderr) or _last_line(stdout)
        if code is not None and code in self.fail_codes:
            redirect = dotted(data, self.leader_field) if self.leader_field else None
            return Outcome(
                "fail",
                redirect=str(redirect) if redirect not in (None, "") else None,
                error=f"exit {code}" + (f": {error}" if error else ""),
            )
        how = f"signal {-code}" if code is not None and code < 0 else f"exit {code}"
        return Outcome("info", error=how + (f": {error}" if error else ""))


def as_text(value: Any) -> str:
    """A value as a command-line argument: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def parse_output(text: str) -> Any:
    """stdout as JSON when it parses, else the stripped text; None when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def dotted(data: Any, path: str) -> Any:
    """``data["a"]["b"]`` for ``"a.b"``; None where the path does not lead."""
    for part in path.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return None
        data = data[part]
    return data


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 3] + "..."


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL the command's whole process group (a CLI may have started children)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
