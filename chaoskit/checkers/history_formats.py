"""Read client histories written by other tools, and check them for linearizability.

Three formats, told apart by their first line of content:

- chaoskit's own ``history.jsonl`` (``{"type": "invoke", "process": 3, ...}``);
- Jepsen's log lines, ``INFO  jepsen.util - 3 :invoke :cas [4 7]`` (other lines are
  noise; the line number is the time);
- Jepsen's EDN maps, ``{:process 9, :type :invoke, :f :put, :key "0", :value "x"}``.

Each is turned into chaoskit records, so one checker serves all. In Jepsen's
histories a failed ``cas`` compared and found another value: it constrains the
state. Jepsen's string key-value histories read ``""`` from a key never written.

>>> check_history_file(Path("etcd_002.log"), "register").valid  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from chaoskit.checkers._models import MODEL_NAMES, get_model
from chaoskit.checkers.linearizable import DEFAULT_BUDGET, check_ops_by_key
from chaoskit.core.checker import CheckResult
from chaoskit.core.records import Record
from chaoskit.errors import ConfigError, HistoryFormatError
from chaoskit.store.files import read_text

Format = Literal["chaoskit", "jepsen-log", "jepsen-edn"]

_JEPSEN_LINE = re.compile(r"jepsen\.util\s+-\s+(\S+)\s+:(invoke|ok|fail|info)\s+:(\S+)\s*(.*?)\s*$")


class Keyword(str):
    """An EDN keyword (``:timed-out``), kept apart from a string of the same text."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f":{self!s}"


@dataclass
class ParsedHistory:
    """Records in chaoskit's shape, with the source line of each, for messages."""

    format: Format
    records: list[Record] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def check_history_file(path: Path, model: str, *, budget: float = DEFAULT_BUDGET) -> CheckResult:
    """Check the history in ``path`` against ``model`` (``register`` or ``kv``).

    Raises ``HistoryFormatError`` (with the line number) on bad input and
    ``ConfigError`` for an unknown model.
    """
    if model not in MODEL_NAMES:
        raise ConfigError(f"unknown model {model!r} (known: {', '.join(MODEL_NAMES)})")
    parsed = read_history_file(path)
    if not parsed.records:
        # Zero operations is no evidence of anything: "linearizable (0 ops)" misleads.
        raise HistoryFormatError(f"{path.name}: no operations to check")
    jepsen = parsed.format != "chaoskit"
    init = "" if parsed.format == "jepsen-edn" and model == "kv" else None
    result = check_ops_by_key(
        parsed.records,
        get_model(model, init=init),
        budget=budget,
        cas_fail_is_miss=jepsen,
        where=_where(path, parsed.lines),
    )
    result.metrics["format"] = parsed.format
    return result


def _where(path: Path, lines: list[int]) -> Callable[[int], str]:
    return lambda i: f"{path.name} line {lines[i]}"


def read_history_file(path: Path) -> ParsedHistory:
    """Parse ``path`` in whichever of the three formats it is written.

    Only a regular file is read (never ``/dev/zero``, a FIFO or a directory), as UTF-8.
    """
    text = read_text(path, "history file", max_bytes=None, error=HistoryFormatError)
    lines = text.splitlines()
    fmt = detect_format(lines, path)
    parse = {"chaoskit": _parse_jsonl, "jepsen-log": _parse_log, "jepsen-edn": _parse_edn}[fmt]
    out = ParsedHistory(fmt)
    try:
        parse(lines, path, out, torn_ok=not text.endswith("\n"))
    except RecursionError:
        line = out.lines[-1] + 1 if out.lines else 1
        raise HistoryFormatError(f"{path.name} near line {line}: nested too deeply") from None
    return out


def detect_format(lines: list[str], path: Path) -> Format:
    """Tell the format from the first line with content."""
    for number, line in enumerate(lines, start=1):
        head = line.lstrip()
        if not head:
            continue
        if head.startswith("{:"):
            return "jepsen-edn"
        if head.startswith("{"):
            return "chaoskit"
        if any(_JEPSEN_LINE.search(x) for x in lines):
            return "jepsen-log"
        raise HistoryFormatError(
            f"{path.name} line {number}: not a chaoskit JSONL, Jepsen log or Jepsen EDN history"
        )
    return "chaoskit"  # no content at all: an empty history, trivially linearizable


def _parse_jsonl(lines: list[str], path: Path, out: ParsedHistory, *, torn_ok: bool) -> None:
    last = max((i for i, x in enumerate(lines) if x.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            if i == last and torn_ok:
                return  # a torn last line: the writer died mid-line
            raise HistoryFormatError(f"{path.name} line {i + 1}: not JSON ({exc.msg})") from exc
        if not isinstance(rec, dict):
            raise HistoryFormatError(f"{path.name} line {i + 1}: not a JSON object")
        _check_fields(rec, f"{path.name} line {i + 1}")
        out.records.append(rec)
        out.lines.append(i + 1)


def _parse_log(lines: list[str], path: Path, out: ParsedHistory, *, torn_ok: bool) -> None:
    for i, line in enumerate(lines):
        m = _JEPSEN_LINE.search(line)
        if m is None:
            continue
        proc_text, kind, f, value_text = m.groups()
        try:
            proc = read_edn(proc_text)
            value = read_edn(value_text) if value_text else None
        except ValueError as exc:
            raise HistoryFormatError(f"{path.name} line {i + 1}: {exc}") from exc
        if isinstance(proc, Keyword):
            continue  # the nemesis and other non-client processes
        _add(out, path, i + 1, {"process": proc, "type": kind, "f": f, "key": None, "value": value})


def _parse_edn(lines: list[str], path: Path, out: ParsedHistory, *, torn_ok: bool) -> None:
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = read_edn(line)
        except ValueError as exc:
            raise HistoryFormatError(f"{path.name} line {i + 1}: {exc}") from exc
        if not isinstance(rec, dict):
            raise HistoryFormatError(f"{path.name} line {i + 1}: not an EDN map")
        if isinstance(rec.get("process"), Keyword):
            continue
        for name in ("process", "type", "f"):
            if name not in rec:
                raise HistoryFormatError(f"{path.name} line {i + 1}: no :{name}")
        _add(out, path, i + 1, {**rec, "type": str(rec["type"]), "f": str(rec["f"])})


def _check_fields(rec: Record, where: str) -> None:
    """Operations are grouped by process and by key: both must be plain values (a list
    or a map there is a malformed history, not a crash of the checker)."""
    for name in ("process", "key"):
        if isinstance(rec.get(name), list | dict):
            raise HistoryFormatError(f"{where}: {name} must be a number or a name")


def _add(out: ParsedHistory, path: Path, line: int, rec: Record) -> None:
    _check_fields(rec, f"{path.name} line {line}")
    rec["index"] = len(out.records)
    rec["time"] = line
    out.records.append(rec)
    out.lines.append(line)


# ---------------------------------------------------------------- a small EDN reader

_TOKEN = re.compile(
    r"""[\s,]*(?:
      (?P<open>[\[{(]) | (?P<close>[\]})]) |
      (?P<str>"(?:[^"\\]|\\.)*") |
      (?P<kw>:[^\s,\[\]{}()"]+) |
      (?P<num>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?) |
      (?P<sym>[^\s,\[\]{}()"]+)
    )""",
    re.VERBOSE,
)
_SYMBOLS: dict[str, Any] = {"nil": None, "true": True, "false": False}


def read_edn(text: str) -> Any:
    """Read one EDN value: maps, vectors, lists, strings, numbers, keywords, nil, booleans.

    Raises ``ValueError`` for anything else or for trailing text.
    """
    value, pos = _read(text, 0)
    if text[pos:].strip(" \t,\r\n"):
        raise ValueError(f"unexpected text after the value: {text[pos:].strip()!r}")
    return value


def _read(text: str, pos: int) -> tuple[Any, int]:
    m = _TOKEN.match(text, pos)
    if m is None or m.lastgroup is None:
        raise ValueError(f"cannot read EDN at column {pos + 1}: {text[pos : pos + 20]!r}")
    kind, tok, end = m.lastgroup, m.group(m.lastgroup), m.end()
    if kind == "open":
        return _read_seq(text, end, tok)
    if kind == "close":
        raise ValueError(f"unexpected {tok!r} at column {m.start(kind) + 1}")
    if kind == "str":
        return json.loads(tok), end
    if kind == "kw":
        return Keyword(tok[1:]), end
    if kind == "num":
        return (float(tok) if any(c in tok for c in ".eE") else int(tok)), end
    if tok in _SYMBOLS:
        return _SYMBOLS[tok], end
    raise ValueError(f"unknown EDN symbol {tok!r}")


def _read_seq(text: str, pos: int, opener: str) -> tuple[Any, int]:
    closer = {"[": "]", "(": ")", "{": "}"}[opener]
    items: list[Any] = []
    while True:
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            raise ValueError(f"unclosed {opener!r}")
        if m.lastgroup == "close":
            if m.group("close") != closer:
                raise ValueError(f"{opener!r} closed by {m.group('close')!r}")
            pos = m.end()
            break
        item, pos = _read(text, pos)
        items.append(item)
    if opener != "{":
        return items, pos
    if len(items) % 2:
        raise ValueError("a map with an odd number of forms")
    return {_map_key(items[i]): items[i + 1] for i in range(0, len(items), 2)}, pos


def _map_key(key: Any) -> Any:
    if isinstance(key, list | dict):
        raise ValueError(f"a map key that is a collection: {key!r:.40}")
    return str(key) if isinstance(key, Keyword) else key
