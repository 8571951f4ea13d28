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

from chaoskit.checkers._history import (
    CompactHistory,
    Row,
    build,
    compact_jsonl,
    compact_records,
    gc_paused,
)
from chaoskit.checkers._models import MODEL_NAMES, ValueModel, get_model
from chaoskit.checkers.linearizable import DEFAULT_BUDGET, DEFAULT_MEMORY_MB, check_history
from chaoskit.core.checker import CheckResult
from chaoskit.core.records import Record
from chaoskit.errors import ConfigError, HistoryFormatError
from chaoskit.store.files import read_text, regular_file

Format = Literal["chaoskit", "jepsen-log", "jepsen-edn"]

_JEPSEN_LINE = re.compile(r"jepsen\.util\s+-\s+(\S+)\s+:(invoke|ok|fail|info)\s+:(\S+)\s*(.*?)\s*$")
_EDN_START = re.compile(rb"\s*\{:")
#: The one-line EDN map of Porcupine's and Jepsen's kv histories, read without the
#: general EDN reader (about ten times faster); any other line takes the general way.
_FLAT_EDN = re.compile(
    r"\{:process (\d+), :type :(invoke|ok|fail|info), :f :([\w-]+), "
    r':key (?:"([^"\\]*)"|(-?\d+)), :value (?:"([^"\\]*)"|(nil)|(-?\d+))\}\s*'
)


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


def check_history_file(
    path: Path,
    model: str,
    *,
    budget: float = DEFAULT_BUDGET,
    memory_mb: float = DEFAULT_MEMORY_MB,
) -> CheckResult:
    """Check the history in ``path`` against ``model`` (``register`` or ``kv``).

    ``budget`` is the seconds of search per key, ``memory_mb`` how far the process's
    memory may grow (see ``linearizable.check_history``). Raises
    ``HistoryFormatError`` (with the line number) on bad input and ``ConfigError``
    for an unknown model.
    """
    if model not in MODEL_NAMES:
        raise ConfigError(f"unknown model {model!r} (known: {', '.join(MODEL_NAMES)})")
    compact, fmt = read_compact_history(path, model)
    if compact.records == 0:
        # Zero operations is no evidence of anything: "linearizable (0 ops)" misleads.
        raise HistoryFormatError(f"{path.name}: no operations to check")
    init = "" if fmt == "jepsen-edn" and model == "kv" else None
    result = check_history(compact, get_model(model, init=init), budget=budget, memory_mb=memory_mb)
    result.metrics["format"] = fmt
    return result


def read_compact_history(path: Path, model: str) -> tuple[CompactHistory, Format]:
    """Read ``path`` into the checker's compact form, and say which format it was.

    chaoskit JSONL goes straight from bytes to columns (msgspec); the Jepsen
    formats, and JSONL the fast decoder refuses (a torn last line, a bad line: the
    slow reader names it), are parsed into records first.
    """
    regular_file(path, "history file", error=HistoryFormatError)  # never /dev/zero, a FIFO
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise HistoryFormatError(f"cannot read history {path}: {exc}") from exc
    m = get_model(model)
    if not _EDN_START.match(data):  # chaoskit JSONL, or a Jepsen log
        compact = compact_jsonl(data, path.name, m)
        if compact is not None:
            return compact, "chaoskit"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HistoryFormatError(
            f"the history file {path} is not UTF-8 text (byte {exc.start}: {data[exc.start]:#04x})"
        ) from None
    if _EDN_START.match(data):
        init = "" if model == "kv" else None
        compact = _FlatEdn(path, text.splitlines()).compact(get_model(model, init=init))
        if compact is not None:
            return compact, "jepsen-edn"
    parsed = parse_history_text(text, path)
    jepsen = parsed.format != "chaoskit"
    if parsed.format == "jepsen-edn" and model == "kv":
        m = get_model(model, init="")
    where = _where(path, parsed.lines)
    compact = compact_records(parsed.records, m, cas_fail_is_miss=jepsen, where=where)
    return compact, parsed.format


class _FlatEdn:
    """A Jepsen EDN history all of whose maps have the one-line shape, read as rows.

    The rows go straight to the checker; a record (the dict ``_parse_edn`` makes)
    is made again from its line only for the few operations an anomaly shows.
    """

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.numbers: list[int] = []

    def rows(self) -> list[Row] | None:
        """Every line with content as a row, or None if one has another shape."""
        rows: list[Row] = []
        for n, line in enumerate(self.lines, start=1):
            row = _flat_row(line, n)
            if row is None:
                if line.strip():
                    return None  # another shape (a nemesis line, more keys): the general way
                continue
            rows.append(row)
            self.numbers.append(n)
        return rows

    def record(self, pos: int) -> Record:
        number = self.numbers[pos]
        row = _flat_row(self.lines[number - 1], number)
        assert row is not None
        kind, proc, f, key, value, line = row
        rec = {"process": proc, "type": kind, "f": f, "key": key, "value": value}
        return {**rec, "index": pos, "time": line}

    def compact(self, model: ValueModel) -> CompactHistory | None:
        with gc_paused():  # the rows die inside (see gc_paused)
            rows = self.rows()
            if rows is None:
                return None
            where = _where(self.path, self.numbers)
            return build(rows, model, record=self.record, where=where, cas_fail_is_miss=True)


def _flat_row(line: str, number: int) -> Row | None:
    """The row of a one-line EDN map (its line number as the time), else None."""
    m = _FLAT_EDN.fullmatch(line)
    if m is None:
        return None
    proc, kind, f, skey, ikey, svalue, nil, ivalue = m.groups()
    key = skey if ikey is None else int(ikey)
    value = svalue if svalue is not None else None if nil else int(ivalue)
    return (kind, int(proc), f, key, value, number)


def _where(path: Path, lines: list[int]) -> Callable[[int], str]:
    return lambda i: f"{path.name} line {lines[i]}"


def read_history_file(path: Path) -> ParsedHistory:
    """Parse ``path`` in whichever of the three formats it is written."""
    text = read_text(path, "history file", max_bytes=None, error=HistoryFormatError)
    return parse_history_text(text, path)


def parse_history_text(text: str, path: Path) -> ParsedHistory:
    """Parse the text of ``path`` in whichever of the three formats it is written."""
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
        row = _flat_row(line, i + 1)
        if row is not None:
            kind, proc, f, key, value, _ = row
            _add(
                out,
                path,
                i + 1,
                {"process": proc, "type": kind, "f": f, "key": key, "value": value},
            )
            continue
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
