"""Reading the files a user names (spec files, matrices, histories, a run's config.json):
only regular files, of bounded size, as UTF-8, parsed without a traceback.

Why one place: every reader had its own ``read_text`` and each failed differently on
the same bad input. ``/dev/zero`` was read until memory ran out (or reported as "no
such file"), a FIFO blocked forever, a non-UTF-8 byte ended in a
``UnicodeDecodeError`` traceback and a document nested 5000 levels deep in a
``RecursionError`` one (Python's ``tomllib`` and ``json`` recurse per level). Here
each of those is one ``ConfigError`` line (or the caller's subclass of it) that says
what the file is.
"""

from __future__ import annotations

import json
import os
import stat
import tomllib
from pathlib import Path
from typing import Any

from chaoskit.errors import ChaoskitError, ConfigError

#: Spec files, matrices and config.json are small; a larger file is a mistake.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
#: The deepest nesting of tables and lists read. TOML's dotted keys (``a.b.c... = 1``)
#: nest without recursing in the parser, and later code that walks or prints the
#: values does recurse; chaoskit's own documents are a few levels deep.
MAX_DEPTH = 32


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words (``a directory``)."""
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def regular_file(
    path: Path, what: str, *, error: type[ChaoskitError] = ConfigError
) -> os.stat_result:
    """``stat`` of ``path`` if it is a regular file (symbolic links followed); else an
    ``error`` that names it: missing, a directory, a device, a FIFO. Never opens it, so
    a FIFO cannot block and ``/dev/zero`` is never read."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise error(f"no such {what}: {path}") from None
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise error(f"the {what} {path} is {kind_of(info.st_mode)}, not a file") from None
    return info


def read_text(
    path: Path,
    what: str,
    *,
    max_bytes: int | None = MAX_DOCUMENT_BYTES,
    error: type[ChaoskitError] = ConfigError,
) -> str:
    """The UTF-8 text of the regular file ``path`` (at most ``max_bytes``, None: any)."""
    info = regular_file(path, what, error=error)
    if max_bytes is not None and info.st_size > max_bytes:
        raise error(
            f"the {what} {path} is {info.st_size} bytes; at most {max_bytes} are read"
        ) from None
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"the {what} {path} is not UTF-8 text (byte {exc.start}: {data[exc.start]:#04x})"
        ) from None


def parse_toml(
    text: str, where: str, *, error: type[ChaoskitError] = ConfigError
) -> dict[str, Any]:
    """A TOML document; a one-line ``error`` for bad TOML or absurd nesting."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where} is not valid TOML: {exc}") from None
    except RecursionError:
        data = None
    if data is None or depth(data) > MAX_DEPTH:
        raise error(f"{where} is nested more than {MAX_DEPTH} levels deep") from None
    return data


def parse_json(text: str, where: str, *, error: type[ChaoskitError] = ConfigError) -> Any:
    """A JSON document; a one-line ``error`` for bad JSON or absurd nesting."""
    try:
        data = json.loads(text)
    except RecursionError:
        data = _TOO_DEEP
    except ValueError as exc:
        raise error(f"{where} is not valid JSON: {exc}") from None
    if data is _TOO_DEEP or depth(data) > MAX_DEPTH:
        raise error(f"{where} is nested more than {MAX_DEPTH} levels deep") from None
    return data


_TOO_DEEP = object()


def depth(value: Any) -> int:
    """How deeply lists and tables nest in ``value`` (a scalar is 0), without recursing."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_DEPTH:
            return deepest  # deep enough to refuse: no need to walk the rest
        stack.extend((child, level + 1) for child in children)
    return deepest


def read_toml(path: Path, what: str, *, error: type[ChaoskitError] = ConfigError) -> dict[str, Any]:
    """Read and parse the TOML file ``path`` (a spec, a matrix)."""
    return parse_toml(read_text(path, what, error=error), f"the {what} {path}", error=error)
