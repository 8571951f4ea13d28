"""Reading the three history formats and checking a file end to end."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from chaoskit.checkers.history_formats import (
    Keyword,
    check_history_file,
    read_edn,
    read_history_file,
)
from chaoskit.errors import ConfigError, HistoryFormatError

LOG = """\
2017-01-01 INFO  jepsen.core - Running test
INFO  jepsen.util - 0\t:invoke\t:write\t1
INFO  jepsen.util - 0\t:ok\t:write\t1
INFO  jepsen.util - 1   :invoke  :cas  [1 2]
INFO  jepsen.util - 1\t:fail\t:cas\t[1 2]
INFO  jepsen.util - 2\t:invoke\t:read\tnil
INFO  jepsen.util - 2\t:ok\t:read\t1
INFO  jepsen.util - :nemesis\t:info\t:start\tnil
"""


def write(tmp_path: Path, text: str, name: str = "h.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_jepsen_log_lines_are_read_and_noise_skipped(tmp_path: Path) -> None:
    parsed = read_history_file(write(tmp_path, LOG))
    assert parsed.format == "jepsen-log"
    assert [(r["process"], r["type"], r["f"], r["value"]) for r in parsed.records][:3] == [
        (0, "invoke", "write", 1),
        (0, "ok", "write", 1),
        (1, "invoke", "cas", [1, 2]),
    ]
    assert parsed.lines[0] == 2 and len(parsed.records) == 6


def test_a_failed_jepsen_cas_means_the_comparison_failed(tmp_path: Path) -> None:
    # The cas [1 2] failed while the register held 1 all along: impossible.
    assert check_history_file(write(tmp_path, LOG), "register").valid is False
    ok = LOG.replace(":fail\t:cas\t[1 2]", ":ok\t:cas\t[1 2]").replace(":read\t1", ":read\t2")
    assert check_history_file(write(tmp_path, ok, "ok.txt"), "register").valid is True


def test_jepsen_edn_kv_reads_empty_string_for_unwritten_keys(tmp_path: Path) -> None:
    text = (
        '{:process 0, :type :invoke, :f :get, :key "a", :value nil}\n'
        '{:process 0, :type :ok, :f :get, :key "a", :value ""}\n'
        '{:process 1, :type :invoke, :f :append, :key "a", :value "x"}\n'
        '{:process 1, :type :ok, :f :append, :key "a", :value "x"}\n'
        '{:process 2, :type :invoke, :f :get, :key "a", :value nil}\n'
        '{:process 2, :type :ok, :f :get, :key "a", :value "xy"}\n'
    )
    result = check_history_file(write(tmp_path, text), "kv")
    assert result.metrics["format"] == "jepsen-edn"
    assert result.valid is False
    assert result.anomalies[0]["key"] == "a"


def test_chaoskit_jsonl_is_checked_with_its_own_semantics(tmp_path: Path) -> None:
    records = [
        {
            "index": 0,
            "type": "invoke",
            "process": 1,
            "f": "write",
            "key": "k",
            "value": 3,
            "time": 0,
        },
        {"index": 1, "type": "ok", "process": 1, "f": "write", "key": "k", "value": 3, "time": 5},
        {
            "index": 2,
            "type": "invoke",
            "process": 2,
            "f": "read",
            "key": "k",
            "value": None,
            "time": 10,
        },
        {"index": 3, "type": "ok", "process": 2, "f": "read", "key": "k", "value": 3, "time": 15},
    ]
    text = "\n".join(json.dumps(r) for r in records) + "\n"
    result = check_history_file(write(tmp_path, text), "register")
    assert result.valid is True and result.metrics["format"] == "chaoskit"
    torn = text + '{"index": 4, "type": "inv'
    assert check_history_file(write(tmp_path, torn, "torn.jsonl"), "register").valid is True


@pytest.mark.parametrize("text", ["", "\n\n", "INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n"])
def test_a_history_without_operations_is_refused(tmp_path: Path, text: str) -> None:
    # "linearizable (0 ops)" would read as evidence; there is none.
    with pytest.raises(HistoryFormatError, match="no operations to check"):
        check_history_file(write(tmp_path, text), "register")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), "is a directory, not a file"),
        (lambda p: os.mkfifo(p), "is a FIFO, not a file"),
        (lambda p: p.symlink_to("/dev/zero"), "is a character device, not a file"),
        (lambda p: p.write_bytes(b'{"type": "invoke", "f": "\xff"}\n'), "is not UTF-8 text"),
        (lambda p: p.write_text("[" * 5000 + "]" * 5000 + "\n"), "line 1: not a chaoskit JSONL"),
        (lambda p: p.write_text('{"a": ' * 5000 + "1" + "}" * 5000 + "\n"), "nested too deeply"),
        (lambda p: p.write_text("{:a " * 5000 + "1" + "}" * 5000 + "\n"), "nested too deeply"),
        (lambda p: p.write_text("{:process 1 [1] 2}\n"), "a map key that is a collection"),
        # Found by tests/reliability/test_fuzz_inputs.py: a TypeError (unhashable) before.
        (lambda p: p.write_text('{"type":"invoke","process":[]}\n'), "process must be a number"),
        (lambda p: p.write_text('{"process":1,"key":{"a":1}}\n'), "h.jsonl line 1: key must be"),
        (lambda p: p.write_text("{:process [1] :type :invoke :f :read}\n"), "process must be"),
    ],
)
def test_files_that_are_no_history_are_refused_without_reading_them(
    tmp_path: Path, make: Callable[[Path], object], message: str
) -> None:
    path = tmp_path / "h.jsonl"
    make(path)  # a FIFO nobody writes to: reading it would block the test forever
    with pytest.raises(HistoryFormatError, match=re.escape(message)):
        check_history_file(path, "register")


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('{"type": "invoke"}\nnot json\n{"type": "ok"}\n', 2),
        ("INFO  jepsen.util - 0\t:invoke\t:write\t1\nINFO  jepsen.util - 0\t:ok\t:write\t[1\n", 2),
        ('{:process 0, :type :invoke, :f :get, :key "a"}\n{:process 0 :type}\n', 2),
        ("INFO  jepsen.util - 3\t:ok\t:read\t1\n", 1),
        ('{"type": "invoke", "process": 1, "f": "write", "value": 1}\n', 1),
        ("hello\n", 1),
    ],
)
def test_bad_input_names_the_line(tmp_path: Path, text: str, line: int) -> None:
    with pytest.raises(HistoryFormatError, match=rf"line {line}\b"):
        check_history_file(write(tmp_path, text), "register")


def test_unknown_model_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        check_history_file(write(tmp_path, LOG), "queue")


def test_edn_reader() -> None:
    assert read_edn('{:a [1 -2 "x\\"y"], :b nil, :c (true 1.5)}') == {
        "a": [1, -2, 'x"y'],
        "b": None,
        "c": [True, 1.5],
    }
    assert read_edn(":timed-out") == Keyword("timed-out")
    for bad in ("[1 2", "{:a}", "#{1}", "[1] 2", "(1]"):
        with pytest.raises(ValueError):
            read_edn(bad)
