"""``chaoskit serve [STORE]``: the run store over HTTP on 127.0.0.1.

URLs mirror the store's layout (``/<target>-<nemesis>/<time>/report.html``,
``/nightly/<time>/report.html``) so the relative links inside reports work the same
from disk and from the server. ``/`` is an index of runs coloured by verdict and
filtered by target and nemesis (``?target=raft&nemesis=kill``). A run whose report
is missing or older than its results is rendered on request.

Only requests naming this server are answered: the ``Host`` header must be a loopback
name or address, the specific address it was started on, or one of ``allow_hosts``
(421 Misdirected Request otherwise). Without that, a web page whose name is made to
resolve to 127.0.0.1 (DNS rebinding) could read every config, history and node log
of the store through the visitor's browser.

    >>> serve(Path("runs"))            # blocks; Ctrl-C stops it
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from chaoskit.errors import ChaoskitError, ConfigError, SetupError
from chaoskit.proxy._policy import Policy
from chaoskit.report._html import badge, esc, render, table, verdict_class
from chaoskit.report._model import flat_anomalies, nemesis_label, read_config, read_results
from chaoskit.report._run_report import REPORT, write_run_report
from chaoskit.store.rundir import CONFIG, RESULTS

STORE_KEY = web.AppKey("store", Path)
HOSTS_KEY = web.AppKey("hosts", Policy)
_RENDER_LOCK = threading.Lock()


@dataclass(frozen=True)
class RunEntry:
    """One run as the index lists it."""

    path: str
    target: str
    nemesis: str
    workload: str
    seed: Any
    started_at: str
    verdict: Any
    anomalies: int


def list_runs(store: Path) -> list[RunEntry]:
    """Every run directory of the store, newest first; unreadable ones are skipped."""
    entries = []
    for config_path in store.glob(f"*/*/{CONFIG}"):
        run_dir = config_path.parent
        if run_dir.parent.name in ("latest", "nightly") or run_dir.parent.is_symlink():
            continue
        try:
            config, results = read_config(run_dir), read_results(run_dir)
        except ConfigError:
            continue
        entries.append(
            RunEntry(
                path=run_dir.relative_to(store).as_posix(),
                target=str(config.get("target", "?")),
                nemesis=nemesis_label(config),
                workload=str(config.get("workload") or "none"),
                seed=config.get("seed"),
                started_at=str(config.get("started_at", run_dir.name)),
                verdict=results.get("valid", "unknown") if results else "unchecked",
                anomalies=len(flat_anomalies(results)),
            )
        )
    return sorted(entries, key=lambda e: (e.started_at, e.path), reverse=True)


def list_nightlies(store: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(store-relative dir, summary)`` for every nightly report, newest first."""
    out = []
    for path in sorted((store / "nightly").glob("*/summary.json"), reverse=True):
        try:
            out.append((path.parent.relative_to(store).as_posix(), json.loads(path.read_text())))
        except (OSError, ValueError):
            continue
    return out


def index_page(store: Path, target: str = "", nemesis: str = "") -> str:
    """The store's index: nightly reports, then runs filtered by target and nemesis."""
    runs = list_runs(store)
    shown = [
        r
        for r in runs
        if (not target or r.target == target) and (not nemesis or r.nemesis == nemesis)
    ]
    filters = _select("target", sorted({r.target for r in runs}), target)
    filters += _select("nemesis", sorted({r.nemesis for r in runs}), nemesis)
    filters += f'<span class="note" id="run-count">{len(shown)} of {len(runs)} runs</span>'
    rows = [
        [
            f'<a href="/{esc(r.path)}/{REPORT}">{esc(r.started_at)}</a>',
            esc(r.target),
            esc(r.nemesis),
            esc(r.workload),
            esc(r.seed),
            badge(r.verdict),
            esc(r.anomalies),
            f'<a href="/{esc(r.path)}/junit.xml">junit</a>',
        ]
        for r in shown
    ]
    runs_html = table(
        ["started", "target", "nemesis", "workload", "seed", "verdict", "anomalies", ""],
        rows,
        attrs='id="run-table"',
        row_classes=[f"r-{verdict_class(r.verdict)} run" for r in shown],
    )
    nightly_rows = [
        [
            f'<a href="/{esc(p)}/{REPORT}">{esc(p.split("/")[-1])}</a>',
            badge(s.get("status", "unknown")),
            esc(len(s.get("cells", []))),
        ]
        for p, s in list_nightlies(store)
    ]
    nightlies = (
        table(["night", "status", "cells"], nightly_rows)
        if nightly_rows
        else "<p>None yet: <code>chaoskit nightly MATRIX.toml</code> writes them.</p>"
    )
    return render(
        "index.html",
        page_title=f"chaoskit runs: {esc(store)}",
        heading="chaoskit runs",
        subtitle=esc(store),
        filters=filters,
        runs=runs_html,
        nightlies=nightlies,
    )


def _select(name: str, options: list[str], chosen: str) -> str:
    opts = [f'<option value="">all {esc(name)}s</option>']
    opts += [
        f'<option value="{esc(o)}"{" selected" if o == chosen else ""}>{esc(o)}</option>'
        for o in options
    ]
    return (
        f'<label>{esc(name)} <select name="{esc(name)}" id="filter-{esc(name)}" '
        f'onchange="this.form.submit()">{"".join(opts)}</select></label>'
    )


def _inside(store: Path, rel: str) -> Path:
    """Resolve ``rel`` under the store, refusing anything that escapes it."""
    root = store.resolve()
    path = (root / rel).resolve()
    if path != root and root not in path.parents:
        raise web.HTTPNotFound()
    return path


def _fresh_report(run_dir: Path) -> Path:
    """The run's report, re-rendered when missing or older than its results."""
    report = run_dir / REPORT
    results = run_dir / RESULTS
    stale = not report.exists() or (
        results.exists() and results.stat().st_mtime > report.stat().st_mtime
    )
    if stale and (run_dir / CONFIG).exists():
        with _RENDER_LOCK:
            write_run_report(run_dir)
    return report


async def _index(request: web.Request) -> web.Response:
    store = request.app[STORE_KEY]
    page = await asyncio.to_thread(
        index_page, store, request.query.get("target", ""), request.query.get("nemesis", "")
    )
    return web.Response(text=page, content_type="text/html")


async def _file(request: web.Request) -> web.StreamResponse:
    store = request.app[STORE_KEY]
    path = _inside(store, request.match_info["path"])
    if path.is_dir():
        if not request.path.endswith("/"):
            raise web.HTTPFound(request.path + "/")
        path = path / REPORT
    if path.name == REPORT and path.parent.parent.name != "nightly":
        try:
            path = await asyncio.to_thread(_fresh_report, path.parent)
        except ChaoskitError as exc:
            raise web.HTTPInternalServerError(text=str(exc)) from exc
    if not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers=_content_type(path))


def _content_type(path: Path) -> dict[str, str]:
    """JSON Lines and logs as text, so a browser shows them instead of downloading."""
    if path.suffix in (".jsonl", ".log"):
        return {"Content-Type": "text/plain; charset=utf-8"}
    return {}


@web.middleware
async def _host_check(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Answer only requests whose Host names this server (see the module docstring)."""
    problem = request.app[HOSTS_KEY].host_problem(request.headers.get("Host"))
    if problem:
        return web.Response(status=421, text=f"{problem}: chaoskit serve --allow-host NAME\n")
    return await handler(request)


def make_app(
    store: Path, allow_hosts: Iterable[str] = (), bound_host: str = "127.0.0.1"
) -> web.Application:
    """The aiohttp application serving ``store`` (tests run it on port 0); requests
    must name a loopback host, ``bound_host`` (unless a wildcard) or ``allow_hosts``."""
    app = web.Application(middlewares=[_host_check])
    app[STORE_KEY] = Path(store)
    app[HOSTS_KEY] = Policy(allow_hosts=frozenset(allow_hosts)).with_host(bound_host)
    app.router.add_get("/", _index)
    app.router.add_get("/{path:.+}", _file)
    return app


def serve(
    store: Path, host: str = "127.0.0.1", port: int = 8000, allow_hosts: Iterable[str] = ()
) -> None:
    """Serve ``store`` until interrupted; a ``ConfigError`` if it is not a directory.

    ``Host`` headers accepted: loopback ones, ``host`` unless it is a wildcard
    (0.0.0.0 names no one: pass the names clients use in ``allow_hosts``), and
    ``allow_hosts``.
    """
    if not Path(store).is_dir():
        raise ConfigError(f"{store} is not a run store (no such directory)")
    try:
        web.run_app(
            make_app(Path(store), allow_hosts, bound_host=host),
            host=host,
            port=port,
            print=lambda _: print(f"serving {store} on http://{host}:{port}/"),
        )
    except OSError as exc:
        raise SetupError(f"cannot serve {store} on {host}:{port}: {exc.strerror or exc}") from exc
