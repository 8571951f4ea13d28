"""The chaoskit pytest plugin: chaos tests for service teams, in a few lines.

Registered through the ``pytest11`` entry point. It imports nothing heavy until a
test uses one of its fixtures, so sessions without chaos tests pay nothing.

::

    import pytest

    @pytest.mark.chaos(target="raft", nemesis="partition", time_limit=20)
    def test_raft_survives_partitions(chaos_run):
        chaos_run.assert_valid()

    def test_isolated_leader_steps_down(chaos_cluster):
        leader = chaos_cluster.wait_for_leader()
        chaos_cluster.apply("isolate-leader")
        ...
        chaos_cluster.heal()
        chaos_cluster.check().assert_valid()

Options (each with an ini twin): ``--chaos-seed``, ``--chaos-store``,
``--chaos-time-scale``, ``--chaos-runtime``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaoskit.run.cluster import ChaosCluster
    from chaoskit.run.config import RunConfig
    from chaoskit.run.result import RunResult

OPT_SEED = "chaos_seed"
OPT_STORE = "chaos_store"
OPT_TIME_SCALE = "chaos_time_scale"
OPT_RUNTIME = "chaos_runtime"
_OPTIONS = {
    OPT_SEED: "seed of every chaos run (default: drawn at random, printed on failure)",
    OPT_STORE: "where chaos runs are stored (default: runs)",
    OPT_TIME_SCALE: "multiply every chaos time limit (0.5 on a laptop, 3 at night)",
    OPT_RUNTIME: "runtime of chaos runs: local (default) or docker",
}
MARKER = (
    "chaos(target='raft', nemesis='partition', time_limit=20, ...): configure the chaos run "
    "of the chaos_run / chaos_cluster fixtures; keywords are the run settings "
    "(docs/pytest.md), given by name"
)
#: Where a marker's defaults differ from ``chaoskit run``'s: tests should be short.
MARKER_DEFAULTS: dict[str, Any] = {"time_limit": 20}
_RUNS_KEY = pytest.StashKey[list[tuple[str, Any]]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaoskit", "chaos testing of leader-elected services")
    for name, help_text in _OPTIONS.items():
        group.addoption("--" + name.replace("_", "-"), dest=name, default=None, help=help_text)
        parser.addini(name, help_text, default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    config.stash[_RUNS_KEY] = []


def _option(config: pytest.Config, name: str) -> Any:
    value = config.getoption(name)
    if value is None:
        value = config.getini(name)
    return value or None


def build_config(
    args: tuple[Any, ...], kwargs: dict[str, Any], pyconfig: pytest.Config, node_id: str
) -> RunConfig:
    """A RunConfig from the marker's keywords and the session's options.

    The keywords are the run settings (``chaoskit.run.settings``), checked like the
    command line's options; a mistake is a ``pytest.UsageError`` naming the test.
    """
    from chaoskit.errors import ConfigError
    from chaoskit.run.settings import config_from_mapping
    from chaoskit.run.values import number

    if args:
        raise pytest.UsageError(
            f"{node_id}: give @pytest.mark.chaos its settings by name, e.g. "
            f"chaos(target={args[0]!r}, nemesis=...); positional arguments are not read"
        )
    values = dict(kwargs)
    # A scenario file's [run] table comes before the marker's own defaults.
    defaults = MARKER_DEFAULTS if "scenario" in values else {}
    if "scenario" not in values:
        values = {**MARKER_DEFAULTS, **values}
    if "seed" not in values and _option(pyconfig, OPT_SEED) is not None:
        values["seed"] = _option(pyconfig, OPT_SEED)
    if "runtime" not in values and _option(pyconfig, OPT_RUNTIME) is not None:
        values["runtime"] = _option(pyconfig, OPT_RUNTIME)
    session = {"store": _option(pyconfig, OPT_STORE) or "runs", "progress": False}
    try:
        config = config_from_mapping(values, where=node_id, session=session, defaults=defaults)
        scale = number(_option(pyconfig, OPT_TIME_SCALE) or 1.0, OPT_TIME_SCALE)
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    if scale <= 0:
        raise pytest.UsageError(f"--chaos-time-scale must be positive, not {scale:g}")
    config.time_limit *= scale
    try:
        config.validate()  # the scaled time limit too: 20 s x 1e308 is no test
    except ConfigError as exc:
        raise pytest.UsageError(f"{node_id}: {exc}") from None
    return config.with_seed()


def _marker(request: pytest.FixtureRequest) -> tuple[tuple[Any, ...], dict[str, Any]]:
    marker = request.node.get_closest_marker("chaos")
    return (tuple(marker.args), dict(marker.kwargs)) if marker is not None else ((), {})


def _record(request: pytest.FixtureRequest, result: RunResult) -> None:
    """Put the verdict where CI systems look: JUnit properties, report, summary."""
    node = request.node
    node.user_properties += [
        ("chaos_run_dir", str(result.run_dir)),
        ("chaos_verdict", str(result.valid)),
        ("chaos_seed", str(result.seed)),
    ]
    node.add_report_section("call", "chaoskit", result.describe())
    request.config.stash[_RUNS_KEY].append((node.nodeid, result))


def _beside(request: pytest.FixtureRequest, values: dict[str, Any]) -> dict[str, Any]:
    """A relative ``scenario`` path found next to the test file is taken from there."""
    if not isinstance(values.get("scenario"), str | Path):
        return values
    near = Path(request.node.path).parent / values["scenario"]
    return {**values, "scenario": str(near)} if near.is_file() else values


@pytest.fixture
def chaos_run(request: pytest.FixtureRequest) -> RunResult:
    """Carry out the run the test's ``@pytest.mark.chaos(...)`` describes."""
    from chaoskit.run.api import run

    if request.node.get_closest_marker("chaos") is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the chaos_run fixture needs @pytest.mark.chaos(...) "
            "naming at least the target, e.g. @pytest.mark.chaos(target='raft')"
        )
    args, kwargs = _marker(request)
    config = build_config(args, _beside(request, kwargs), request.config, request.node.nodeid)
    result = run(config, on_anomaly=_live_reporter(request))
    _record(request, result)
    return result


def _live_reporter(request: pytest.FixtureRequest) -> Any:
    """Each anomaly the live checks find, on pytest's terminal while the test runs:
    written by the terminal reporter with output capture suspended for the line, as
    pytest's own live logging does."""
    from chaoskit.run.live import line

    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    if reporter is None:
        return None
    capture = plugins.get_plugin("capturemanager")
    nodeid = request.node.nodeid

    def show(anomaly: dict[str, Any]) -> None:
        uncaptured = capture.global_and_fixture_disabled() if capture else nullcontext()
        with uncaptured:
            reporter.ensure_newline()
            reporter.write_line(f"chaoskit: {nodeid}: anomaly {line(anomaly)}", red=True)

    return show


@pytest.fixture
def chaos_cluster(request: pytest.FixtureRequest) -> Iterator[ChaosCluster]:
    """A running cluster the test drives itself; ``check()`` ends it with a verdict."""
    from chaoskit.run.cluster import ChaosCluster

    args, kwargs = _marker(request)
    if "scenario" in kwargs:
        raise pytest.UsageError(
            f"{request.node.nodeid}: chaos_cluster applies faults itself; a scenario's "
            "steps run with the chaos_run fixture"
        )
    kwargs.setdefault("nemesis", "none")
    config = build_config(args, kwargs, request.config, request.node.nodeid)
    cluster = ChaosCluster(config)
    try:
        yield cluster
    finally:
        result = cluster.close()
        if result is not None:
            _record(request, result)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    runs = config.stash.get(_RUNS_KEY, [])
    if not runs:
        return
    terminalreporter.section("chaoskit")
    for nodeid, result in runs:
        terminalreporter.write_line(
            f"{nodeid}: {result.valid} seed={result.seed} run={result.run_dir}"
        )
    failed = [r for _, r in runs if r.valid is not True]
    if failed:
        seeds = " ".join(str(r.seed) for r in failed)
        terminalreporter.write_line(f"re-run failing chaos runs with --chaos-seed (seeds: {seeds})")
