"""``junit.xml`` for one run: one test case per checker, for CI systems.

A checker that found anomalies is a ``<failure>`` listing them; a checker whose
verdict is ``unknown`` (it crashed, or the run was too short to tell) is an
``<error>``; a run never checked is one ``<error>`` case saying so. Each case's
``<system-out>`` holds the checker's headline figures (``checkers.figures.headline``),
and a failure's message starts with them. The seed and the
command that repeats the run are suite properties and in ``<system-out>``.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chaoskit.checkers.figures import headline
from chaoskit.report._model import nemesis_label, read_config, read_results
from chaoskit.store.rundir import resolve_run_dir

JUNIT = "junit.xml"


def write_junit(run_dir: Path) -> Path:
    """Write ``run_dir/junit.xml`` from ``config.json`` and ``results.json``."""
    run_dir = resolve_run_dir(Path(run_dir))
    tree = junit_tree(read_config(run_dir), read_results(run_dir))
    ET.indent(tree)
    path = run_dir / JUNIT
    tmp = path.with_suffix(".xml.tmp")
    tree.write(tmp, encoding="utf-8", xml_declaration=True)
    os.replace(tmp, path)
    return path


def junit_tree(config: dict[str, Any], results: dict[str, Any] | None) -> ET.ElementTree:
    """The JUnit document for a run's config and results (None: never checked)."""
    suite_name = f"chaoskit.{config.get('target', 'target')}.{nemesis_label(config)}"
    end = config.get("end_time")
    seconds = f"{end / 1e9:.3f}" if isinstance(end, int | float) else "0"
    suites = ET.Element("testsuites", name="chaoskit")
    suite = ET.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        time=seconds,
        timestamp=str(config.get("started_at", "")),
    )
    props = ET.SubElement(suite, "properties")
    for key in ("seed", "target", "workload", "command"):
        ET.SubElement(props, "property", name=key, value=str(config.get(key, "")))
    ET.SubElement(props, "property", name="nemesis", value=nemesis_label(config))
    counts = {"tests": 0, "failures": 0, "errors": 0}
    if results is None:
        _error(
            suite,
            suite_name,
            "results",
            "not checked: no results.json in the run directory (run `chaoskit check RUN_DIR`)",
            "",
        )
        counts["tests"], counts["errors"] = 1, 1
    for name, result in ((results or {}).get("checkers") or {}).items():
        counts["tests"] += 1
        outcome = _case(suite, suite_name, name, result)
        if outcome:
            counts[outcome] += 1
    if (results or {}).get("incomplete"):
        counts["tests"] += 1
        counts["errors"] += 1
        _error(
            suite, suite_name, "complete", "the run was cut short: verdicts may miss anomalies", ""
        )
    for key, value in counts.items():
        suite.set(key, str(value))
        suites.set(key, str(value))
    out = ET.SubElement(suite, "system-out")
    out.text = f"seed: {config.get('seed')}\nrepeat: {config.get('command', '(not recorded)')}\n"
    return ET.ElementTree(suites)


def _case(suite: ET.Element, classname: str, name: str, result: dict[str, Any]) -> str | None:
    """Add one checker's test case; return ``failures``/``errors`` when it is one."""
    valid = result.get("valid", "unknown")
    anomalies = result.get("anomalies") or []
    figures = "; ".join(f"{label} {text}" for label, text in headline(result.get("metrics") or {}))
    outcome: str | None = None
    if valid is True:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    elif valid is False:
        case = ET.SubElement(suite, "testcase", classname=classname, name=name)
        failure = ET.SubElement(
            case,
            "failure",
            type="anomaly",
            message=f"{len(anomalies)} anomalies{f' ({figures})' if figures else ''}: "
            + "; ".join(str(a.get("message", a.get("kind"))) for a in anomalies[:3]),
        )
        failure.text = "\n".join(_anomaly_line(a) for a in anomalies)
        outcome = "failures"
    else:
        detail = result.get("error") or "the checker could not decide"
        case = _error(
            suite,
            classname,
            name,
            f"verdict unknown: {detail}",
            "\n".join(_anomaly_line(a) for a in anomalies),
        )
        outcome = "errors"
    if figures:
        ET.SubElement(case, "system-out").text = figures
    return outcome


def _error(suite: ET.Element, classname: str, name: str, message: str, text: str) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    error = ET.SubElement(case, "error", type="unknown", message=message)
    error.text = text or message
    return case


def _anomaly_line(anomaly: dict[str, Any]) -> str:
    start, end = anomaly.get("start"), anomaly.get("end")
    window = (
        f" [{start / 1e9:.3f}s - {end / 1e9:.3f}s]"
        if isinstance(start, int | float) and isinstance(end, int | float)
        else ""
    )
    nodes = anomaly.get("nodes")
    who = f" nodes={','.join(map(str, nodes))}" if nodes else ""
    return f"{anomaly.get('kind', '?')}{window}{who}: {anomaly.get('message', '')}"
