"""Small HTML helpers: fill a packaged template, escape, tables, verdict badges.

Templates are ``string.Template`` files under ``templates/`` (package data): one with
a page's sections each, inside the shared ``page.html`` with the stylesheet inlined, so
every page is one self-contained file. Values put into a
template are HTML already: every helper here escapes what it is given.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from string import Template
from typing import Any

Cell = str


@cache
def _template(name: str) -> Template:
    text = resources.files("chaoskit.report").joinpath("templates", name).read_text("utf-8")
    return Template(text)


def render(name: str, *, page_title: str, heading: str, subtitle: str, **values: str) -> str:
    """Fill ``templates/<name>`` (the page's sections) with ``values`` (HTML), then
    ``templates/page.html`` (head, inlined stylesheet, header) around it."""
    return _template("page.html").substitute(
        style=_template("style.css").template,
        page_title=page_title,
        heading=heading,
        subtitle=subtitle,
        main=_template(name).substitute(**values),
    )


def esc(value: Any) -> str:
    """Escape any value for HTML text or an attribute."""
    return html.escape(str(value), quote=True)


def verdict_text(valid: Any) -> str:
    """``True`` -> ``valid``, ``False`` -> ``invalid``, anything else as it is."""
    if valid is True:
        return "valid"
    if valid is False:
        return "invalid"
    return str(valid)


def verdict_class(valid: Any) -> str:
    """The CSS suffix for a verdict or a status: true, false, unknown, pass, fail, ..."""
    if isinstance(valid, bool):
        return "true" if valid else "false"
    return esc(str(valid).lower())


def badge(valid: Any, text: str | None = None, *, element_id: str | None = None) -> Cell:
    """A verdict badge; ``element_id`` names it for tests and links (``#verdict``)."""
    ident = f' id="{esc(element_id)}"' if element_id else ""
    return (
        f'<span class="badge v-{verdict_class(valid)}"{ident}>'
        f"{esc(text if text is not None else verdict_text(valid))}</span>"
    )


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    row_classes: Sequence[str] | None = None,
    attrs: str = "",
) -> str:
    """A table of already-escaped cells; ``row_classes`` gives each row a CSS class."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    return f"<table {attrs}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def key_values(items: Iterable[tuple[str, Cell]]) -> str:
    """A two-column table of labels and already-escaped values."""
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td></tr>" for k, v in items)
    return f'<table class="kv">{rows}</table>'


def seconds(ns: Any) -> str:
    """Run nanoseconds as seconds with millisecond precision: ``12.345 s``."""
    return f"{ns / 1e9:.3f} s" if isinstance(ns, int | float) else "?"


def millis(value: Any) -> str:
    return f"{value:.0f} ms" if isinstance(value, int | float) else "n/a"
