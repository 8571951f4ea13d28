"""Fuzzing the command line (issue 26): whatever a user types or points chaoskit at,
the exit status is 0, 1 or 2, the output holds no traceback (nor an "internal error",
the one line a bug gets), and nothing is left behind.

Driven in-process through ``chaoskit.cli.main.main`` (tests/support/cli.py):

- ``run`` with every setting of the settings table, from sensible to absurd values.
  The run is planned for real (every check a run makes before it starts anything)
  and stopped there: ``execute`` is replaced by the plan alone, so no cluster starts.
  A few real short runs, as processes, are in ``test_real_short_runs``.
- target spec files: random TOML documents over the spec's fields, and random bytes;
- nightly matrix files: random TOML documents over the matrix keys, and random bytes
  (cells are not run: ``run_cell`` refuses each, so a night ends with exit 1);
- ``check`` of a stored run whose config.json and streams are replaced by random JSON;
- ``check-history`` of random bytes, JSON Lines, Jepsen log lines and EDN;
- ``cleanup --run-id`` with random text.

Examples per test: ``CHAOSKIT_FUZZ_EXAMPLES`` (default 40, sized for CI: the whole
module takes about a minute and a half on two loaded cores); e.g. 2000 for a long
local session.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chaoskit.core import plugins
from chaoskit.errors import SetupError
from chaoskit.run.result import RunResult
from chaoskit.run.settings import SETTINGS
from chaoskit.runtimes.local import find_leftovers
from tests.support.cli import CliResult, chaoskit
from tests.support.synthetic import SyntheticSpec, write_synthetic_run

from .conftest import Session, listeners_of, port_listening

EXAMPLES = int(os.environ.get("CHAOSKIT_FUZZ_EXAMPLES", "40"))
#: pytest-timeout's limit per test grows with the examples asked for (about 1 s each
#: at worst: checking and drawing a run).
#: Real files, the real CLI, /proc and (for cleanup) the Docker engine: integration.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(max(300, 3 * EXAMPLES))]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# -- what every command must hold --------------------------------------------------------


def children() -> set[int]:
    """Child processes of this test process."""
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except OSError:
            continue
    return found


@contextmanager
def sandbox() -> Iterator[tuple[Path, dict[str, str]]]:
    """A fresh folder and state dir per example; on leaving, nothing of chaoskit's may
    remain: no registry entry, no new child process, no new listener of this process."""
    before_children, before_listeners = children(), set(listeners_of([os.getpid()]))
    with tempfile.TemporaryDirectory(prefix="ck-fuzz-") as tmp:
        root = Path(tmp)
        env = {"CHAOSKIT_STATE_DIR": str(root / "state")}
        yield root, env
        assert not list((root / "state").glob("active/*.json")), "a registry entry was left"
    assert children() <= before_children, "a process was left running"
    assert set(listeners_of([os.getpid()])) <= before_listeners, "a listener was left open"


def sane(res: CliResult, allowed: frozenset[int] = frozenset({0, 1, 2})) -> None:
    """Exit 0, 1 or 2; no traceback; a bug's "internal error" line is a failure too."""
    event(f"exit {res.code}")  # --hypothesis-show-statistics: how the examples ended
    assert res.code in allowed, (res.code, res.out[-2000:], res.err[-2000:])
    assert "Traceback" not in res.out + res.err, res.err[-4000:]
    assert "internal error" not in res.err, res.err[-2000:]
    if res.code == 2:
        errors = [line for line in res.err.splitlines() if line.startswith("error:")]
        assert len(errors) <= 1, res.err


# -- value strategies --------------------------------------------------------------------

ODD_TEXT = [
    "",
    " ",
    ",",
    "none",
    "0",
    "-1",
    "1e308",
    "-1e308",
    "inf",
    "-inf",
    "nan",
    "1" + "0" * 5000,
    "0x10",
    "1_000",
    "²",
    "../../x",
    "a=b",
    "=",
    "[/red]",
    "{}",
    "\x00",
    "é",
]
text = st.one_of(st.sampled_from(ODD_TEXT), st.text(max_size=30))
numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["0.001", "0.1", "1", "2", "3", "5", "60", "86400", "86401", "1e9"]),
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=25,
)


def nemesis_specs() -> st.SearchStrategy[str]:
    names = plugins.names("nemeses")
    option = st.tuples(
        st.sampled_from(
            [
                "count",
                "mode",
                "direction",
                "max_offset_s",
                "offset_s",
                "rate",
                "period_ms",
                "latency_ms",
                "jitter_ms",
                "bogus",
            ]
        ),
        st.one_of(numbers, text, st.sampled_from(["all", "one", "leader", "hang", "in"])),
    )
    one = st.tuples(st.sampled_from(names), st.lists(option, max_size=2)).map(
        lambda t: t[0] + (":" + ";".join(f"{k}={v}" for k, v in t[1]) if t[1] else "")
    )
    together = st.lists(one, min_size=1, max_size=3).map("&".join)
    return st.one_of(
        st.lists(together, min_size=1, max_size=3).map(",".join), st.sampled_from(ODD_TEXT)
    )


def mostly(good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``good`` three times in four: absurd values everywhere would stop every example
    at the first check, and the checks after it would never be reached."""
    return st.sampled_from((True, True, True, False)).flatmap(lambda ok: good if ok else bad)


def setting_values(key: str) -> st.SearchStrategy[str]:
    """Values of one run setting, from the plausible to the absurd."""
    targets = [*plugins.names("targets"), "raft", "raft", "nope", "spec.toml", "/dev/zero"]
    sensible: dict[str, st.SearchStrategy[str]] = {
        "target": st.sampled_from(targets),
        "nemesis": nemesis_specs(),
        "workload": st.sampled_from(plugins.names("workloads")),
        "runtime": st.sampled_from(["local", "docker", "compose"]),
        "network": st.sampled_from(["proxy", "iptables"]),
        "policy": st.sampled_from(["strict", "per-term"]),
        "checkers": st.sampled_from(plugins.names("checkers")),
        "options": st.sampled_from(["bug=stale-read", "tick-ms=5", "a=b"]),
        "toxiproxy_url": st.sampled_from(["http://127.0.0.1:1", "nope"]),
        "compose_file": st.sampled_from(["docker-compose.yml", "nowhere.yml"]),
        "compose_project": st.sampled_from(["ck", "x"]),
        "nodes": st.integers(1, 16).map(str),
        "time_limit": st.sampled_from(["1", "5", "60", "86400"]),
        "seed": st.integers(0, 2**40).map(str),
        "concurrency": st.integers(0, 201).map(str),
        "bound_clients": st.integers(0, 201).map(str),
        "fault_seconds": st.sampled_from(["0.1", "0.5", "2", "30"]),
        "heal_seconds": st.sampled_from(["0.1", "0.5", "2", "30"]),
        "election_deadline": st.sampled_from(["0.5", "5", "100"]),
    }
    return mostly(sensible.get(key, numbers), st.one_of(numbers, text))


RARE = ("runtime", "network", "compose_file", "compose_project", "toxiproxy_url", "policy")


@st.composite
def run_argv(draw: st.DrawFn) -> list[str]:
    argv: list[str] = []
    for setting in SETTINGS:
        # Each setting 1 time in 2; those that only make sense together, 1 in 8.
        flips = 3 if setting.key in RARE else 1
        if setting.key == "store" or not all(draw(st.booleans()) for _ in range(flips)):
            continue
        if setting.flag_value is not None:
            argv.append(setting.cli_flag)
            continue
        for _ in range(draw(st.integers(1, 2)) if setting.repeated else 1):
            argv += [setting.cli_flag, draw(setting_values(setting.key))]
    return argv


def plan_only(planned: list[object]) -> Callable[[Any], Any]:
    """``execute`` that plans for real and stops before anything starts."""
    from chaoskit.run.plan import plan_run

    async def execute(config: Any) -> RunResult:
        plan = plan_run(config.with_seed())
        planned.append(plan)
        return RunResult(Path("not-run"), {"valid": True, "checkers": {}}, seed=config.seed)

    return execute


# -- TOML documents ----------------------------------------------------------------------


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def toml_document(tables: dict[str, dict[str, Any]], top: dict[str, Any]) -> str:
    lines = [f"{toml_string(k)} = {toml_value(v)}" for k, v in top.items()]
    for name, table in tables.items():
        lines.append(f"[{toml_string(name)}]")
        lines += [f"{toml_string(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(ODD_TEXT),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(min_size=1, max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
GOOD_TEMPLATES = ["{id}", "{port}", "{host}:{port}", "--data={data_dir}", "{peers}", "{index:03}"]
BAD_TEMPLATES = ["a{", "}", "{id.x}", "{port[0]}", "{id:d}", "{index:>99999}", "{nope}", "{0}"]
TEMPLATES = mostly(
    st.sampled_from(GOOD_TEMPLATES), st.one_of(st.sampled_from(BAD_TEMPLATES), st.text(max_size=8))
)
ARGV = st.lists(TEMPLATES, min_size=1, max_size=4).map(lambda xs: ["python3", *xs])


def field(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field's value: mostly of its type and range, else any TOML value."""
    return mostly(values, toml_values)


def with_bogus(table: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Now and then an unknown key in the table."""
    bogus = st.dictionaries(st.sampled_from(["bogus", "nmae"]), toml_values, min_size=1)
    return mostly(table, st.tuples(table, bogus).map(lambda t: {**t[0], **t[1]}))


def spec_tables() -> st.SearchStrategy[tuple[dict[str, dict[str, Any]], dict[str, Any]]]:
    """A target spec: mostly well formed, with fields broken one by one."""
    top = st.fixed_dictionaries(
        {"name": field(st.text(min_size=1, max_size=8))},
        optional={
            "policy": field(st.sampled_from(["strict", "per-term"])),
            "election_timeout": field(st.floats(0.01, 10)),
            "election_deadline": field(st.floats(0.1, 100)),
            "proxy_mode": field(st.sampled_from(["pair", "destination"])),
            "workloads": field(st.lists(st.sampled_from(["none", "register", "kv", "set"]))),
        },
    )
    launch = st.fixed_dictionaries(
        {"argv": field(ARGV)},
        optional={
            "peer_argv": field(st.lists(TEMPLATES, max_size=2)),
            "env": field(st.dictionaries(st.sampled_from(["A", "B"]), TEMPLATES)),
            "peer_format": field(mostly(st.just("{peer.id}={peer.host}:{peer.port}"), TEMPLATES)),
        },
    )
    ask = st.one_of(
        st.fixed_dictionaries({"http": field(st.sampled_from(["GET /status", "GET x"]))}),
        st.fixed_dictionaries({"command": field(ARGV)}),
        st.fixed_dictionaries(
            {"python": st.sampled_from(["json:loads", "", ":", "json:nope", "nosuchmodule:f"])}
        ),
    )
    read = st.fixed_dictionaries(
        {"role": field(st.sampled_from(["role", "raft.state"]))},
        optional={
            "is_leader": field(st.just("is_leader")),
            "leader": field(st.just("leader")),
            "term": field(st.just("term")),
            "leader_values": field(st.lists(st.text(max_size=5))),
        },
    )
    status = st.tuples(ask, read).map(lambda t: {**t[0], **t[1]})
    op = st.fixed_dictionaries(
        {"http": field(st.sampled_from(["GET /kv/{key}", "PUT /kv/{key}", "GET /{nope}"]))},
        optional={
            "body": field(st.sampled_from(['{{"value": {value}}}', "{value", "{to}"])),
            "value": field(st.just("value")),
            "fail_status": field(st.lists(st.integers(100, 599), max_size=3)),
        },
    )
    ops = st.dictionaries(st.sampled_from(["read", "write", "cas", "get", "put", "bogus"]), op)
    docker = st.fixed_dictionaries(
        {"image": field(st.text(min_size=1, max_size=8))},
        optional={"port": field(st.integers(1, 65535))},
    )
    tables = st.fixed_dictionaries(
        {"launch": with_bogus(launch), "status": with_bogus(status)},
        optional={"ops": ops, "docker": docker},
    )
    return st.tuples(tables, with_bogus(top))


def matrix_tables() -> st.SearchStrategy[tuple[dict[str, dict[str, Any]], dict[str, Any]]]:
    """A nightly matrix: mostly well formed, with keys broken one by one."""
    targets = st.sampled_from(["raft", "bully", "paxos"])
    matrix = st.fixed_dictionaries(
        {
            "targets": field(st.lists(mostly(targets, text), min_size=1, max_size=2)),
            "nemeses": field(st.lists(nemesis_specs(), min_size=1, max_size=2)),
            "seeds": field(st.lists(st.integers(0, 100), min_size=1, max_size=2)),
            "time_limit": field(st.floats(0.5, 100)),
        },
        optional={
            "workloads": field(st.lists(st.sampled_from(["none", "register", "nope"]), max_size=2)),
            "nodes": field(st.integers(1, 15)),
            "fault_seconds": field(st.floats(0.1, 10)),
        },
    )
    return st.tuples(
        st.fixed_dictionaries(
            {"matrix": with_bogus(matrix)},
            optional={
                "options": st.dictionaries(st.sampled_from(["tick-ms", "bug"]), toml_values),
                "trends": st.dictionaries(
                    st.sampled_from(["nights", "regression_ratio", "regression_min_ms"]),
                    field(st.integers(0, 30)),
                ),
            },
        ),
        st.fixed_dictionaries(
            {},
            optional={"exclude": st.lists(field(st.fixed_dictionaries({"target": targets})))},
        ),
    )


# -- the tests ---------------------------------------------------------------------------


@FUZZ
@given(argv=run_argv())
def test_run_options(argv: list[str]) -> None:
    planned: list[object] = []
    with (
        sandbox() as (root, env),
        mock.patch("chaoskit.run.controller.execute", plan_only(planned)),
    ):
        res = chaoskit("run", "--store", str(root / "runs"), *argv, cwd=root, env=env)
        sane(res, frozenset({0, 2}))
        assert (res.code == 0) == bool(planned), res.err
        assert not (root / "runs").exists()


@FUZZ
@given(doc=st.one_of(spec_tables(), st.binary(max_size=300)))
def test_spec_files(doc: Any) -> None:
    planned: list[object] = []
    with (
        sandbox() as (root, env),
        mock.patch("chaoskit.run.controller.execute", plan_only(planned)),
    ):
        spec = root / "svc.toml"
        if isinstance(doc, bytes):
            spec.write_bytes(doc)
        else:
            spec.write_text(toml_document(*doc))
        res = chaoskit("run", "--target", str(spec), "--no-progress", cwd=root, env=env)
        sane(res, frozenset({0, 2}))


def _refuse_cell(cell: dict[str, Any]) -> Path:
    raise SetupError("cells are not run by the fuzz test")


@FUZZ
@given(doc=st.one_of(matrix_tables(), st.binary(max_size=300)))
def test_matrix_files(doc: Any) -> None:
    with sandbox() as (root, env), mock.patch("chaoskit.nightly.cells.run_cell", _refuse_cell):
        matrix = root / "m.toml"
        if isinstance(doc, bytes):
            matrix.write_bytes(doc)
        else:
            matrix.write_text(toml_document(*doc))
        res = chaoskit("nightly", str(matrix), "--store", str(root / "runs"), env=env)
        sane(res, frozenset({1, 2}))  # 1: every cell refused by _refuse_cell


STREAMS = ("config.json", "history.jsonl", "observations.jsonl", "nemesis.jsonl")


@FUZZ
@given(
    target=st.sampled_from(STREAMS),
    value=json_values,
    lines=st.lists(json_values, max_size=5),
    raw=st.binary(max_size=200),
    how=st.sampled_from(["field", "value", "lines", "bytes"]),
    command=st.sampled_from(["check", "report"]),
)
def test_check_of_a_damaged_run(
    target: str, value: Any, lines: list[Any], raw: bytes, how: str, command: str
) -> None:
    with sandbox() as (root, env):
        run_dir = write_synthetic_run(root / "runs", SyntheticSpec(seed=4, duration_s=4, ops=40))
        path = run_dir / target
        if how == "field" and target == "config.json":  # one field of the real config
            config = json.loads(path.read_text())
            config[sorted(config)[len(lines) % len(config)]] = value
            path.write_text(json.dumps(config))
        elif how == "field":  # a line added to the real stream
            path.write_text(path.read_text() + json.dumps(value) + "\n")
        elif how == "value":
            path.write_text(json.dumps(value))
        elif how == "lines":
            path.write_text("".join(json.dumps(v) + "\n" for v in lines))
        else:
            path.write_bytes(raw)
        sane(chaoskit(command, str(run_dir), env=env))


JEPSEN = st.tuples(
    st.one_of(st.integers(0, 3).map(str), st.sampled_from([":nemesis", "x", "[1"])),
    st.sampled_from(["invoke", "ok", "fail", "info", "bogus"]),
    st.sampled_from(["read", "write", "cas", "x"]),
    st.one_of(st.sampled_from(["nil", "1", "[1 2]", "[1", '"a"', "{:a}", "[[[[1]]]]"]), text),
).map(lambda t: f"INFO  jepsen.util - {t[0]}\t:{t[1]}\t:{t[2]}\t{t[3]}")
RECORD = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(["invoke", "ok", "fail", "info"]), json_values),
        "process": st.one_of(st.integers(0, 3), json_values),
        "f": st.one_of(st.sampled_from(["read", "write", "cas", "get", "put"]), json_values),
        "key": st.one_of(st.sampled_from(["a", "b", None]), json_values),
        "value": json_values,
        "index": st.one_of(st.integers(0, 20), json_values),
        "time": st.one_of(st.integers(0, 10**12), json_values),
    },
)
EDN = st.recursive(
    st.sampled_from(["nil", "true", "1", "-2.5e3", '"s"', ":kw", "sym", "[", "}", '"']) | text,
    lambda inner: (
        st.lists(inner, max_size=4).map(lambda xs: "[" + " ".join(xs) + "]")
        | st.lists(inner, max_size=4).map(lambda xs: "{" + " ".join(xs) + "}")
    ),
    max_leaves=10,
).map(lambda s: "{:process 0 :type :invoke :f :read " + s + "}")


@FUZZ
@given(
    content=st.one_of(
        st.binary(max_size=400),
        st.lists(RECORD.map(json.dumps), max_size=12).map(lambda xs: "\n".join(xs).encode()),
        st.lists(JEPSEN, max_size=12).map(lambda xs: "\n".join(xs).encode()),
        st.lists(EDN, max_size=6).map(lambda xs: "\n".join(xs).encode()),
    ),
    model=st.sampled_from(["register", "kv"]),
)
def test_check_history_files(content: bytes, model: str) -> None:
    with sandbox() as (root, env):
        path = root / "h.log"
        path.write_bytes(content)
        sane(chaoskit("check-history", str(path), "--model", model, env=env))


@settings(FUZZ, max_examples=max(5, EXAMPLES // 4))
@given(run_id=st.one_of(text, st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,70}", fullmatch=True)))
def test_cleanup_run_ids(run_id: str) -> None:
    with sandbox() as (_, env):
        res = chaoskit("cleanup", "--run-id", run_id, env=env)
        sane(res, frozenset({0, 2}))
        if res.code == 0:
            assert "nothing left behind" in res.out


# -- a few real runs ---------------------------------------------------------------------


@settings(FUZZ, max_examples=3)
@given(
    target=st.sampled_from(["raft", "bully"]),
    nodes=st.integers(1, 3),
    nemesis=st.sampled_from(["kill:count=1", "partition", "pause&isolate", "latency", "none"]),
    time_limit=st.sampled_from(["2", "3"]),
    seed=st.integers(0, 2**31),
)
def test_real_short_runs(target: str, nodes: int, nemesis: str, time_limit: str, seed: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ck-fuzz-run-") as tmp:
        session = Session(Path(tmp) / "work", Path(tmp) / "state")
        session.cwd.mkdir()
        try:
            res = session.cli(
                "run",
                "--target",
                target,
                "--nodes",
                str(nodes),
                "--nemesis",
                nemesis,
                "--workload",
                "none",
                "--time-limit",
                time_limit,
                "--fault-seconds",
                "0.5",
                "--heal-seconds",
                "0.5",
                "--seed",
                str(seed),
                "--no-progress",
                timeout=180,
            )
            assert res.returncode in (0, 1, 2), res.stderr
            assert "Traceback" not in res.stdout + res.stderr
            assert "internal error" not in res.stderr
            config = session.config()
            assert find_leftovers(config["run_id"]) == {}
            assert session.registry() == []
            ports = [int(a.rsplit(":", 1)[1]) for a in config["node_addresses"].values()]
            assert not [p for p in ports if port_listening(p)]
        finally:
            session.close()
