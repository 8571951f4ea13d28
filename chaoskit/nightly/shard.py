"""Which shard this job is: ``--shard I/N``, or ``--shard auto`` from the CI engine.

Every engine that fans a job out tells each copy its index, each in its own way; a
shard reads it rather than asking anyone (there is no coordinator to ask). Shards
are numbered 1..N, as GitLab does and as people count jobs. ``auto`` tries, in
order:

- ``CHAOSKIT_SHARD=I/N``: any engine; GitHub Actions has no variable of its own, so a
  workflow sets it from ``strategy.matrix``:
  ``${{ matrix.shard }}/${{ strategy.job-total }}``;
- GitLab ``parallel: N``: ``CI_NODE_INDEX`` (1-based) and ``CI_NODE_TOTAL``;
- Kubernetes Indexed Job: ``JOB_COMPLETION_INDEX`` (0-based) and
  ``CHAOSKIT_SHARD_COUNT``, which the manifest sets to ``spec.completions``
  (Kubernetes puts no count in the environment);
- Slurm job array: ``SLURM_ARRAY_TASK_ID``, ``SLURM_ARRAY_TASK_COUNT`` and
  ``SLURM_ARRAY_TASK_MIN`` (and ``SLURM_ARRAY_TASK_STEP``), so ``--array=0-3``,
  ``1-4`` and ``0-6:2`` all work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from chaoskit.errors import ConfigError

SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
AUTO_HELP = (
    "set CHAOSKIT_SHARD=I/N, or run under GitLab parallel, a Kubernetes Indexed Job "
    "(with CHAOSKIT_SHARD_COUNT) or a Slurm job array"
)


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (1 <= index <= count)."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def slug(self) -> str:
        """The shard's name in file names: ``shard-2-of-5``."""
        return f"shard-{self.index}-of-{self.count}"


def parse_shard(text: str, env: Mapping[str, str]) -> Shard:
    """``"2/5"`` -> Shard(2, 5); ``"auto"`` reads ``env`` (see the module's table)."""
    if text.strip().lower() == "auto":
        return shard_from_env(env)
    return _shard(text, "--shard")


def _shard(text: str, where: str) -> Shard:
    match = SHARD.match(text)
    if not match:
        raise ConfigError(f"{where}: expected I/N (e.g. 2/5) or auto, got {text!r}")
    return _checked(int(match.group(1)), int(match.group(2)), where)


def _checked(index: int, count: int, where: str) -> Shard:
    if count < 1 or not 1 <= index <= count:
        raise ConfigError(f"{where}: shard {index} of {count} does not exist (1 <= I <= N)")
    return Shard(index, count)


def shard_from_env(env: Mapping[str, str]) -> Shard:
    """The shard the CI engine's variables in ``env`` name; a ``ConfigError`` if none."""
    if env.get("CHAOSKIT_SHARD"):
        return _shard(env["CHAOSKIT_SHARD"], "CHAOSKIT_SHARD")
    if env.get("CI_NODE_INDEX") or env.get("CI_NODE_TOTAL"):
        where = "CI_NODE_INDEX/CI_NODE_TOTAL"
        index, total = _ints(env, ("CI_NODE_INDEX", "CI_NODE_TOTAL"), where)
        return _checked(index, total, where)
    if env.get("JOB_COMPLETION_INDEX"):
        where = "JOB_COMPLETION_INDEX/CHAOSKIT_SHARD_COUNT"
        index, count = _ints(env, ("JOB_COMPLETION_INDEX", "CHAOSKIT_SHARD_COUNT"), where)
        return _checked(index + 1, count, where)
    if env.get("SLURM_ARRAY_TASK_ID"):
        names = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN")
        task, count, low = _ints(env, names, "SLURM_ARRAY_TASK_*")
        (step,) = _ints({"S": env.get("SLURM_ARRAY_TASK_STEP") or "1"}, ("S",), "STEP")
        if step < 1 or (task - low) % step:
            raise ConfigError(f"SLURM_ARRAY_TASK_ID {task} is not min {low} + k x step {step}")
        return _checked((task - low) // step + 1, count, "SLURM_ARRAY_TASK_*")
    raise ConfigError(f"--shard auto: no shard index in the environment ({AUTO_HELP})")


def _ints(env: Mapping[str, str], names: tuple[str, ...], where: str) -> tuple[int, ...]:
    values = []
    for name in names:
        raw = env.get(name, "").strip()
        if not raw:
            raise ConfigError(f"--shard auto ({where}): {name} is not set")
        try:
            values.append(int(raw))
        except ValueError:
            raise ConfigError(f"--shard auto: {name}={raw!r} is not a whole number") from None
    return tuple(values)
