"""Reading the files a user names (chaoskit/store/files.py): regular files only, never
opened otherwise, bounded, UTF-8, and nesting that cannot blow the stack."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chaoskit.clock.faketime import faketime_spec
from chaoskit.core.clock import MAX_OFFSET_S
from chaoskit.errors import ConfigError, HistoryFormatError
from chaoskit.store.files import MAX_DEPTH, depth, parse_json, parse_toml, read_text, read_toml


def test_a_regular_utf8_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('x = "é"\n[t]\ny = [1, [2]]\n')
    assert read_toml(path, "spec") == {"x": "é", "t": {"y": [1, [2]]}}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such spec: "),
        (lambda p: p.mkdir(), "is a directory, not a file"),
        (lambda p: os.mkfifo(p), "is a FIFO, not a file"),
        (lambda p: p.symlink_to("/dev/zero"), "is a character device, not a file"),
        (lambda p: p.write_bytes(b"\xff\xfe"), "is not UTF-8 text (byte 0: 0xff)"),
        (lambda p: p.write_bytes(b"x" * 100), "is 100 bytes; at most 10 are read"),
    ],
)
def test_what_is_not_a_small_text_file_is_one_error(
    tmp_path: Path, make: object, message: str
) -> None:
    path = tmp_path / "f"
    make(path)  # type: ignore[operator]
    with pytest.raises(HistoryFormatError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_text(path, "spec", max_bytes=10, error=HistoryFormatError)


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 5000 + "]" * 5000,
        "a = " + "{b = " * 5000 + "1" + "}" * 5000,
        ".".join(["a"] * 5000) + " = 1",
        ".".join(["a"] * (MAX_DEPTH + 1)) + " = 1",
    ],
)
def test_toml_nested_too_deep_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=f"nested more than {MAX_DEPTH} levels deep"):
        parse_toml(text, "the spec")


def test_json_nested_too_deep_is_refused() -> None:
    for text in ("[" * 100_000 + "]" * 100_000, '{"a": ' * 40 + "1" + "}" * 40):
        with pytest.raises(ConfigError, match="nested more than"):
            parse_json(text, "config.json")
    assert parse_json('{"a": [1, {"b": 2}]}', "x") == {"a": [1, {"b": 2}]}


def test_depth_counts_tables_and_lists_without_recursing() -> None:
    assert depth(1) == 0
    assert depth({"a": [1, {"b": 2}]}) == 3
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    assert depth(deep) > MAX_DEPTH


def test_clock_offsets_are_bounded_where_they_are_written() -> None:
    assert faketime_spec(MAX_OFFSET_S, 1.0, now=0.0).startswith("+630720000.")
    for offset in (MAX_OFFSET_S * 1.01, -1e30, float("nan")):
        with pytest.raises(ConfigError, match="clock offset must be within"):
            faketime_spec(offset, 1.0, now=0.0)
    with pytest.raises(ConfigError, match=r"clock rate must be between 0\.001 and 100"):
        faketime_spec(0.0, 1e-6, now=0.0)
