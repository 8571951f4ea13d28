"""Which night, and which matrix: the identity every shard of one night shares.

The N shards of a night run on N machines that never talk to each other, and their
stores come back as artifact folders; a merge must never stitch together shards of
different nights or of different matrices. So every shard records two names that it
can work out on its own:

- the **matrix digest**: SHA-256 of the matrix's normalised content (the parsed
  values of what decides the runs: axes, excludes, shared settings, target options;
  not comments, layout, key order or the ``[trends]`` table, which only shapes the
  report). Two files that run the same experiment have the same digest.
- the **night id**: ``--night ID`` (or ``CHAOSKIT_NIGHT``) when given; else the run
  id the CI engine gives every job of one run (GitHub Actions ``GITHUB_RUN_ID``,
  GitLab ``CI_PIPELINE_ID``, Slurm ``SLURM_ARRAY_JOB_ID``); else the UTC date.
  A re-run of a failed job keeps its CI run id, so it joins the same night.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime

from chaoskit.errors import ConfigError
from chaoskit.nightly.matrix import Matrix

#: Environment variables holding a CI run id shared by every job of one run, in the
#: order they are tried (``CHAOSKIT_NIGHT`` itself is read as ``--night``'s default).
NIGHT_VARIABLES = ("GITHUB_RUN_ID", "CI_PIPELINE_ID", "SLURM_ARRAY_JOB_ID")
NIGHT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
#: Characters of the digest used in folder names and on the page (the full one is in
#: every summary and is what a merge compares).
SHORT = 12


def matrix_digest(matrix: Matrix) -> str:
    """SHA-256 (hex) of the normalised matrix: what decides the runs, nothing else."""
    content = {
        "targets": matrix.targets,
        "nemeses": matrix.nemeses,
        "workloads": matrix.workloads,
        "seeds": matrix.seeds,
        "time_limit": matrix.time_limit,
        # time_limit is in the settings too, as written (5 or 5.0): its parsed value is above
        "settings": {k: v for k, v in matrix.settings.items() if k != "time_limit"},
        "options": matrix.options,
        "exclude": sorted(sorted(ex.items()) for ex in matrix.exclude),
    }
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_night_id(night: str) -> str:
    """``night`` if it can name a folder (letters, digits, ``.``, ``_``, ``-``)."""
    if not NIGHT_ID.match(night):
        raise ConfigError(
            f"--night {night!r}: use 1-64 letters, digits, '.', '_' or '-' "
            "(starting with a letter or digit)"
        )
    return night


def resolve_night(given: str | None, env: Mapping[str, str], now: datetime | None = None) -> str:
    """The night id: ``given``, else a CI run id from ``env``, else the UTC date."""
    if given:
        return check_night_id(given)
    for name in NIGHT_VARIABLES:
        value = env.get(name, "").strip()
        if value:
            return check_night_id(value)
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d")
