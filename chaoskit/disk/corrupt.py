"""Corrupt a file of a stopped node's durable state: flip bits in it, or cut it short.

A plain function over a directory (the backing directory of a fault file system, or
any node's data directory): it needs no FUSE. Every choice (which file, which offsets,
which bits, where to cut) comes from the caller's ``random.Random``, in an order that
depends only on the directory's content, so one seed corrupts the same bytes again.
The answer says exactly what was done, for the fault log.
"""

from __future__ import annotations

import fnmatch
import os
import random
from pathlib import Path
from typing import Any

from chaoskit.errors import ConfigError

MODES = ("bitflip", "truncate")


def corrupt_file(
    root: Path,
    rng: random.Random,
    *,
    mode: str = "bitflip",
    path: str | None = None,
    pattern: str | None = None,
    bits: int = 1,
) -> dict[str, Any]:
    """Corrupt ``path`` (relative to ``root``), or a file drawn among those matching ``pattern``.

    ``bitflip`` flips one random bit in each of ``bits`` distinct random bytes;
    ``truncate`` cuts the file at a random length shorter than it is. Only non-empty
    regular files are candidates. Returns ``{"mode", "path", ...}`` with ``flips``
    (offset, bit, byte before and after) or ``size_before``/``size_after``; ``path`` is
    None (and ``skipped`` says why) when no file qualifies.
    """
    if mode not in MODES:
        raise ConfigError(f"corrupt mode {mode!r} unknown; known: {', '.join(MODES)}")
    if bits < 1:
        raise ConfigError(f"corrupt bits must be at least 1, not {bits}")
    if path is not None:
        target = _inside(root, path)
        if not target.is_file() or target.stat().st_size == 0:
            raise ConfigError(f"cannot corrupt {path}: not a non-empty regular file under {root}")
        chosen = path
    else:
        candidates = _candidates(root, pattern)
        if not candidates:
            what = f" matching {pattern!r}" if pattern else ""
            return {"mode": mode, "path": None, "skipped": f"no non-empty file{what}"}
        chosen = rng.choice(candidates)
    target = root / chosen
    result: dict[str, Any] = {"mode": mode, "path": chosen}
    if mode == "bitflip":
        result["flips"] = _flip_bits(target, rng, bits)
    else:
        result.update(_truncate(target, rng))
    return result


def _candidates(root: Path, pattern: str | None) -> list[str]:
    """Relative paths of non-empty regular files, in a fixed (sorted) order."""
    found: list[str] = []
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            full = Path(directory) / name
            rel = full.relative_to(root).as_posix()
            if pattern is not None and not fnmatch.fnmatch(rel, pattern):
                continue
            if not full.is_symlink() and full.is_file() and full.stat().st_size > 0:
                found.append(rel)
    return found


def _inside(root: Path, path: str) -> Path:
    target = (root / path).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ConfigError(f"cannot corrupt {path}: outside {root}")
    return target


def _flip_bits(target: Path, rng: random.Random, bits: int) -> list[dict[str, int]]:
    flips: list[dict[str, int]] = []
    fd = os.open(target, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        for offset in sorted(rng.sample(range(size), min(bits, size))):
            bit = rng.randrange(8)
            before = os.pread(fd, 1, offset)[0]
            after = before ^ (1 << bit)
            os.pwrite(fd, bytes([after]), offset)
            flips.append({"offset": offset, "bit": bit, "before": before, "after": after})
        os.fsync(fd)
    finally:
        os.close(fd)
    return flips


def _truncate(target: Path, rng: random.Random) -> dict[str, int]:
    fd = os.open(target, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        size = os.fstat(fd).st_size
        new_size = rng.randrange(size)
        os.ftruncate(fd, new_size)
        os.fsync(fd)
    finally:
        os.close(fd)
    return {"size_before": size, "size_after": new_size}
