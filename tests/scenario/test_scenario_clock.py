"""A scenario file's clock step gets a clock: the run preloads libfaketime for the
nemeses of the steps, not only for those of ``--nemesis`` (a replay or a shrunk
schedule of a clock fault, such as the ``lease-read`` pairing's, names its faults in
a scenario file only)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from chaoskit.run.api import run
from chaoskit.run.settings import config_from_mapping

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("faketime") is None, reason="libfaketime not installed"),
]

SCENARIO = """
[run]
target = "raft"
nodes = 3
workload = "none"
time_limit = 5

[[step]]
nemesis = "clock-bump"
options = { max_offset_s = "5" }
targets = "leader"
at = 1
duration = 2
"""


def test_a_clock_step_of_a_scenario_moves_the_leaders_clock(tmp_path: Path) -> None:
    path = tmp_path / "clock.toml"
    path.write_text(SCENARIO)
    values = {"scenario": str(path), "seed": 3}
    config = config_from_mapping(values, where="test", session={"store": tmp_path / "runs"})
    config.progress = False
    result = run(config)
    assert result.error is None, result.error
    records = [json.loads(line) for line in (result.run_dir / "nemesis.jsonl").open()]
    [start] = [r for r in records if r["type"] == "start"]
    assert start["fault"] == "clock-bump"
    (victim,) = start["detail"]["clocks"]
    assert start["detail"]["clocks"][victim]["offset_s"] != 0
