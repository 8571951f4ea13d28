"""The pytest plugin, tested with pytester on real clusters (issue 10)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration


def _ini(pytester: pytest.Pytester, extra: str = "") -> None:
    pytester.makeini(f"[pytest]\nchaos_store = {pytester.path / 'runs'}\n{extra}")


def test_passing_chaos_test_reports_its_run(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.chaos(target="raft", nemesis="partition", time_limit=8, nodes=3,
                           workload="none")
        def test_raft(chaos_run):
            chaos_run.assert_valid()
            assert chaos_run.metrics("split-brain")["sampling_interval_ms"]["p50"] > 0
        """
    )
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess("--chaos-seed", "4", f"--junitxml={junit}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*chaoskit*", "*test_raft: True seed=4 run=*"])
    props = {p.get("name"): p.get("value") for p in ET.parse(junit).iter("property")}
    assert props["chaos_verdict"] == "True" and props["chaos_seed"] == "4"
    run_dir = Path(props["chaos_run_dir"])
    assert json.loads((run_dir / "config.json").read_text())["seed"] == 4


def test_failing_chaos_test_says_what_happened(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.chaos(target="bully", nemesis="partition", time_limit=12, nodes=5)
        def test_bully(chaos_run):
            assert chaos_run.anomalies("split-brain")
            chaos_run.assert_valid()
        """
    )
    result = pytester.runpytest_subprocess("--chaos-seed", "3")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*chaoskit verdict: False (seed 3, run *",
            "*split-brain*led*",
            "*repeat with: chaoskit run --target bully*--seed 3*",
            "*re-run failing chaos runs with --chaos-seed (seeds: 3)*",
        ]
    )


def test_time_scale_and_ini_twins(pytester: pytest.Pytester) -> None:
    _ini(pytester, "chaos_seed = 17\nchaos_time_scale = 0.5\n")
    pytester.makepyfile(
        """
        import json, pytest

        @pytest.mark.chaos(target="raft", nemesis="none", time_limit=8, nodes=3,
                           workload="none")
        def test_scaled(chaos_run):
            config = json.loads((chaos_run.run_dir / "config.json").read_text())
            assert config["seed"] == 17
            assert config["time_limit"] == 4.0
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_cluster_fixture_drives_faults(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        """
        import time, pytest

        @pytest.mark.chaos(target="raft", nodes=3, workload="register", concurrency=2)
        def test_isolate(chaos_cluster):
            first = chaos_cluster.wait_for_leader()
            chaos_cluster.apply("isolate-leader")
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and chaos_cluster.leader() in (first, None):
                time.sleep(0.1)
            assert chaos_cluster.leader() not in (first, None)
            chaos_cluster.heal()
            # Clients on the cut-off leader wait out their time-out first: give them time.
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not any(
                op["type"] == "ok" for op in chaos_cluster.history()
            ):
                time.sleep(0.1)
            assert any(op["type"] == "ok" for op in chaos_cluster.history())
            chaos_cluster.check().assert_valid()
        """
    )
    pytester.runpytest_subprocess("--chaos-seed", "8").assert_outcomes(passed=1)


def test_target_object_from_conftest(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makeconftest(
        """
        from chaoskit.targets.bully.target import BullyTarget

        MY_TARGET = BullyTarget()
        """
    )
    pytester.makepyfile(
        """
        import pytest
        from conftest import MY_TARGET

        @pytest.mark.chaos(target=MY_TARGET, nemesis="none", time_limit=4, nodes=3)
        def test_obj(chaos_run):
            # The object's target ran. (Not its verdict: Bully's takeover when a
            # higher node comes up is a brief real split brain, which the observer,
            # sampling from the first answer on, can see.)
            assert chaos_run.run_dir.parent.name == "bully-none"
            assert chaos_run.metrics("stats")["observations"]["total"] > 0
        """
    )
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_parallel_runs_with_xdist_do_not_collide(pytester: pytest.Pytester) -> None:
    _ini(pytester)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(2))
        @pytest.mark.chaos(target="raft", nemesis="kill", time_limit=6, nodes=3,
                           workload="none")
        def test_par(chaos_run, i):
            chaos_run.assert_valid()
        """
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "xdist")
    result.assert_outcomes(passed=2)
    run_dirs = list((pytester.path / "runs").glob("raft-kill/*"))
    assert len(run_dirs) == 2


def test_session_without_chaos_tests_pays_nothing(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import sys

        def test_plain():
            heavy = [m for m in ("chaoskit.run.controller", "aiohttp", "httpx", "rich", "faker")
                     if m in sys.modules]
            assert heavy == []
        """
    )
    # other installed plugins (xdist, asyncio, Faker's own) are not ours to judge
    result = pytester.runpytest_subprocess("-p", "no:xdist", "-p", "no:asyncio", "-p", "no:faker")
    result.assert_outcomes(passed=1)


def test_misuse_says_how_to_fix_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_no_marker(chaos_run):
            pass
        """
    )
    result = pytester.runpytest_subprocess()
    result.stdout.fnmatch_lines(["*needs @pytest.mark.chaos(...)*"])
    assert result.ret != 0


def test_a_fail_fast_chaos_test_fails_at_the_first_live_anomaly(
    pytester: pytest.Pytester,
) -> None:
    """Bully splits its brain under partitions: the anomaly is on pytest's terminal as
    the test runs, and the run stops there instead of at its 60 s limit."""
    _ini(pytester)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.chaos(target="bully", nemesis="partition", time_limit=60,
                           heal_seconds=2, fault_seconds=4, fail_fast=True)
        def test_bully(chaos_run):
            chaos_run.assert_valid()
        """
    )
    result = pytester.runpytest_subprocess("--chaos-seed", "5")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "chaoskit: test_a_fail_fast*::test_bully: anomaly found live at * s: split-brain: *",
            "*stopped early at * s (--fail-fast): split-brain found live*",
        ]
    )
    run_dir = next((pytester.path / "runs").glob("bully-partition/*"))
    results = json.loads((run_dir / "results.json").read_text())
    assert results["valid"] is False
    assert results["stopped_early"]["at"] < 60e9
