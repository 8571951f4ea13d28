"""Real runs: each planted bug caught by its pairing, the correct Raft clean under it.

A small, fixed slice of ``benchmarks/detection.py`` (which runs the whole bug x seed
matrix): one seed per bug, 20 s runs (30 s for the two read bugs), and the correct
Raft on one seed per distinct pairing. About 6 minutes on a quiet 2-core machine.
``stale-read`` and ``lease-read`` need clients bound to nodes (``--bound-clients``, in
their pairings) and, for ``lease-read``, a clock fault together with the isolation
(``a&b``).
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

TIME_LIMIT = 20.0
#: Bugs whose runs need longer: a stale read needs a read on the deposed leader at the
#: right moment, and a 20 s run isolates the leader about once. Measured on the quiet
#: machine (2026-12-06): ``stale-read`` found in 4 of 8 seeds in 20 s runs (twice, the
#: CI slice then missed all three of its seeds once), 4 of 5 in 30 s runs.
TIME_LIMITS: dict[str, float] = {"stale-read": 30.0, "lease-read": 30.0}
#: One seed per bug that the CI slice runs (any seed finds these bugs most of the time).
SEEDS: dict[str, tuple[int, ...]] = {
    "double-vote": (1,),
    # A restarted node shows term 0 only until the leader's next heartbeat: on a loaded
    # machine the observer can miss that moment (seed 1 missed it twice beside other
    # tests in CI, and found it in every quiet run).
    "forget-vote": (1, 2, 3),
    "no-step-down": (1,),
    "early-ack": (3,),
    # These two need a read on the deposed leader at the right moment: 5/5 and 9/10 in
    # 30 s runs on a quiet machine (docs/detection.md), about half in 20 s runs. More
    # seeds (and TIME_LIMITS) keep a miss by chance from failing CI; a bug that can no
    # longer be found still fails it.
    "stale-read": (1, 2, 3),
    "lease-read": (1, 2, 4),
    # power-loss-all: every node loses the last second of acknowledged adds (10/10).
    "ack-before-fsync": (1,),
}
CORRECT_SEED = 1


def _needs_fuse(nemesis: str) -> None:
    """A disk nemesis needs FUSE here: skip without it (outside CI; under CI a skip fails)."""
    from chaoskit.core.disk import needs_disk
    from chaoskit.disk import check_fuse_available
    from chaoskit.errors import SetupError
    from chaoskit.run.config import NemesisSpec
    from chaoskit.run.plan import build_nemeses

    if not needs_disk(build_nemeses(NemesisSpec.parse(nemesis)).values()):
        return

    try:
        check_fuse_available()
    except SetupError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize("bug", sorted(SEEDS))
def test_planted_bug_is_caught_by_its_pairing(
    detection: ModuleType, bug: str, tmp_path: Path
) -> None:
    p = detection.PAIRINGS[bug]
    _needs_fuse(p.nemesis)
    for seed in SEEDS[bug]:
        cell = detection.Cell(bug, bug, "leader", p.nemesis, p.workload, seed)
        limit = TIME_LIMITS.get(bug, TIME_LIMIT)
        cell = detection.run_cell(cell, limit, tmp_path / f"seed-{seed}")
        assert cell.error is None, cell.output
        if cell.detected:
            break
    assert cell.exit == 1, f"{bug} not found: {cell.kinds}\n{cell.output}"
    assert cell.detected, f"{bug}: found {cell.kinds}, expected one of {p.kinds}"
    # The summary on the terminal names the anomaly the bug causes.
    assert any(kind in cell.output for kind in p.kinds), cell.output


def _correct_pairings(detection: ModuleType) -> list[str]:
    """One bug name per distinct (nemesis, workload) among the bugs above."""
    seen: dict[tuple[str, str], str] = {}
    for bug in sorted(SEEDS):
        p = detection.PAIRINGS[bug]
        seen.setdefault((p.nemesis, p.workload), bug)
    return sorted(seen.values())


@pytest.mark.parametrize("index", range(7))
def test_correct_raft_passes_the_same_pairings(
    detection: ModuleType, index: int, tmp_path: Path
) -> None:
    pairings = _correct_pairings(detection)
    assert len(pairings) == 7, pairings  # keep the parametrization in step with SEEDS
    p = detection.PAIRINGS[pairings[index]]
    nemesis = p.nemesis
    _needs_fuse(nemesis)
    cell = detection.Cell(None, p.bug, "leader", nemesis, p.workload, CORRECT_SEED)
    cell = detection.run_cell(cell, TIME_LIMIT, tmp_path)
    assert cell.error is None, cell.output
    assert cell.exit == 0, f"false alarm under {nemesis}: {cell.kinds}\n{cell.output}"
