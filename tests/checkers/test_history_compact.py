"""Reading histories into the checker's compact form: the fast paths keep the old meaning.

The fast JSONL decoder (msgspec), the slow line-by-line reader it falls back to, the
one-line EDN shortcut and the general EDN reader must agree on every record; the
messages and anomaly reports must still name the right lines.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from chaoskit.checkers._history import compact_jsonl, compact_records
from chaoskit.checkers._models import get_model
from chaoskit.checkers.history_formats import (
    _parse_edn,
    check_history_file,
    parse_history_text,
    read_compact_history,
    read_edn,
)
from chaoskit.errors import HistoryFormatError
from chaoskit.store.streams import read_jsonl

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "porcupine"


def _lines(*records: dict[str, Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def _op(proc: int, f: str, value: Any, t: int, kind: str = "invoke") -> dict[str, Any]:
    return {"type": kind, "process": proc, "f": f, "key": "k", "value": value, "time": t}


STALE = [
    _op(1, "write", 1, 0),
    _op(1, "write", 1, 10, "ok"),
    _op(2, "read", None, 20),
    _op(2, "read", 2, 30, "ok"),
]


def test_fast_and_slow_jsonl_readers_build_the_same_columns(tmp_path: Path) -> None:
    model = get_model("register")
    fast = compact_jsonl(_lines(*STALE).encode(), "h.jsonl", model)
    slow = compact_records(STALE, model)
    assert fast is not None
    assert fast.steps == slow.steps
    assert fast.keys == slow.keys


def test_a_torn_last_line_falls_back_and_is_forgiven(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(_lines(*STALE) + '{"type": "inv')
    assert compact_jsonl(path.read_bytes(), path.name, get_model("register")) is None
    result = check_history_file(path, "register")
    assert result.valid is False and result.metrics["format"] == "chaoskit"


def test_a_bad_line_is_named_by_its_line_number(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(_lines(*STALE[:2]) + "\n" + "not json\n" + _lines(*STALE[2:]))
    with pytest.raises(HistoryFormatError, match=r"history\.jsonl line 4: not JSON"):
        check_history_file(path, "register")


def test_a_pairing_error_names_the_line_despite_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text("\n\n" + _lines(STALE[1]))
    with pytest.raises(HistoryFormatError, match=r"history\.jsonl line 3: ok of process 1"):
        check_history_file(path, "register")


def test_anomaly_records_come_from_the_right_lines(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    text = _lines(*STALE[:2]) + "\n   \n" + _lines(*STALE[2:])
    path.write_text(text)
    [anomaly] = check_history_file(path, "register").anomalies
    assert anomaly["ops"] == STALE  # the write that sets the state, and the stale read


def test_a_time_that_is_not_an_integer_is_named(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    path.write_text(_lines(STALE[0], {**STALE[1], "time": "soon"}))
    with pytest.raises(HistoryFormatError, match="line 2: invalid literal"):  # the bad record
        check_history_file(path, "register")
    path.write_text(_lines({**STALE[0], "time": 0.0}, {**STALE[1], "time": 10.0}))
    assert check_history_file(path, "register").valid is True


def test_read_jsonl_fast_path_matches_json(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    records = [*STALE, {"n": 2**70, "s": "\u2028é", "f": 1.5, "l": [1, {"a": None}]}]
    path.write_text(_lines(*records) + "\n")
    assert read_jsonl(path).records == records
    path.write_text(_lines(*records) + '{"torn": ')
    read = read_jsonl(path)
    assert read.records == records and read.torn
    path.write_text('{"a": NaN}\n')  # Python's json reads it; msgspec does not
    assert str(read_jsonl(path).records) == "[{'a': nan}]"


def _reference_kv() -> list[Path]:
    files = sorted((DATA / "kv").glob("*.txt")) if DATA.is_dir() else []
    if not files:
        message = f"Porcupine's reference histories are missing: {DATA}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return files


def test_the_one_line_edn_shortcut_reads_as_the_general_reader() -> None:
    for path in _reference_kv():
        text = path.read_text()
        parsed = parse_history_text(text, path)
        assert parsed.format == "jepsen-edn"
        for rec, number in zip(parsed.records, parsed.lines, strict=True):
            general = read_edn(text.splitlines()[number - 1])
            assert {k: rec[k] for k in ("process", "key", "value")} == {
                k: general[k] for k in ("process", "key", "value")
            }
            assert (rec["type"], rec["f"]) == (str(general["type"]), str(general["f"]))


def test_edn_lines_off_the_shortcut_still_parse(tmp_path: Path) -> None:
    lines = [
        '{:process 0, :type :invoke, :f :put, :key "a\\"b", :value "x"}',
        '{:time 5, :process 0, :type :ok, :f :put, :key "a\\"b", :value "x"}',
    ]
    out = parse_history_text("\n".join(lines), tmp_path / "h.edn")
    assert [r["key"] for r in out.records] == ['a"b', 'a"b']
    path = tmp_path / "h.edn"
    path.write_text("\n".join(lines) + "\n")
    compact, fmt = read_compact_history(path, "kv")
    assert fmt == "jepsen-edn" and compact.ops == 1
    assert _parse_edn is not None
