"""junit.xml: one test case per checker."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from chaoskit.report import write_junit
from tests.support.synthetic import SyntheticSpec, write_synthetic_run


def cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {c.get("name", ""): c for c in root.iter("testcase")}


def test_invalid_checkers_are_failures_listing_anomalies(bad_run: Path) -> None:
    path = write_junit(bad_run)
    root = ET.parse(path).getroot()
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    found = cases(path)
    assert set(found) == {"split-brain", "stalled-election", "stats"}
    failure = found["split-brain"].find("failure")
    assert failure is not None and "nodes=n1,n3" in (failure.text or "")
    # The headline figures lead the message and are the case's output.
    assert "(longest overlap " in failure.get("message", "")
    out = found["split-brain"].find("system-out")
    assert out is not None and (out.text or "").startswith("longest overlap ")
    stalled = found["stalled-election"].find("system-out")
    assert stalled is not None and "failover p99" in (stalled.text or "")
    assert found["stats"].find("failure") is None
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["seed"] == "3" and props["command"].startswith("chaoskit run")


def test_unknown_verdict_is_an_error(store: Path) -> None:
    run = write_synthetic_run(store, SyntheticSpec(seed=1, checker_crash=True))
    error = cases(write_junit(run))["linearizable"].find("error")
    assert error is not None and "RecursionError" in error.get("message", "")


def test_unchecked_run_is_one_error(store: Path) -> None:
    run = write_synthetic_run(store, SyntheticSpec(seed=1, checked=False))
    root = ET.parse(write_junit(run)).getroot()
    assert (root.get("tests"), root.get("errors")) == ("1", "1")


def test_passing_run_has_no_failures(good_run: Path) -> None:
    root = ET.parse(write_junit(good_run)).getroot()
    assert root.get("failures") == "0" and root.get("errors") == "0"
    assert int(root.get("tests", "0")) == 3
