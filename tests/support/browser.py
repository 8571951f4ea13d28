"""Open a page in headless Chromium and say what rendered: charts, console errors, requests.

The report tests and the size benchmark use it to see a report as a reader would.
It speaks the DevTools protocol over a websocket (aiohttp's client, already a
dependency): console errors are collected from ``Runtime.consoleAPICalled``,
``Runtime.exceptionThrown`` and ``Log.entryAdded``, every request the page makes is
recorded (a self-contained report makes none beyond itself), and a full-page
screenshot can be saved.

    >>> check = check_page("file:///tmp/run/report.html", screenshot=Path("shot.png"))
    >>> check.console_errors, len(check.charts)
    ([], 3)
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from chaoskit.errors import SetupError

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
_PROBE = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const box = svg.getBoundingClientRect();
    return {name: svg.dataset.chart, width: box.width, height: box.height,
            shapes: svg.querySelectorAll('path, use, rect').length};
  });
  const t = performance.timing;
  return JSON.stringify({charts, title: document.title,
                         load_ms: t.loadEventEnd - t.navigationStart,
                         text: document.body.innerText.slice(0, 20000)});
})()"""


@dataclass
class PageCheck:
    """What the browser saw."""

    url: str
    title: str = ""
    charts: list[dict[str, Any]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    load_ms: float = 0.0
    text: str = ""
    screenshot: Path | None = None


def check_page(
    url: str, *, screenshot: Path | None = None, timeout: float = 60.0, chromium: str = CHROMIUM
) -> PageCheck:
    """Load ``url`` in a fresh headless Chromium, probe it, close the browser."""
    if not Path(chromium).exists():
        raise SetupError(f"{chromium} not found: install Debian's chromium package")
    profile = Path(tempfile.mkdtemp(prefix="chaoskit-chromium-"))
    proc = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port = _devtools_port(profile, proc, timeout)
        return asyncio.run(asyncio.wait_for(_drive(port, url, screenshot), timeout))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


def _devtools_port(profile: Path, proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Chromium writes the port it picked into the profile once it listens."""
    deadline = time.monotonic() + timeout
    marker = profile / "DevToolsActivePort"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SetupError(f"chromium exited with status {proc.returncode} at start")
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(marker.read_text().splitlines()[0])
        time.sleep(0.1)
    raise SetupError("chromium did not open its DevTools port in time")


class _Session:
    """One DevTools page session: numbered commands, events kept for later reading."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = json.loads(msg.data)
            if "id" in data and data["id"] in self.waiting:
                self.waiting.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[ident] = future
        await self.ws.send_json({"id": ident, "method": method, "params": params})
        reply = await future
        if "error" in reply:
            raise SetupError(f"chromium refused {method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def wait_event(self, method: str) -> None:
        while not any(e["method"] == method for e in self.events):
            await asyncio.sleep(0.05)


async def _drive(port: int, url: str, screenshot: Path | None) -> PageCheck:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json()
        page = next(t for t in targets if t.get("type") == "page")
        async with http.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            session = _Session(ws)
            for domain in ("Runtime", "Log", "Page", "Network"):
                await session.call(f"{domain}.enable")
            await session.call(
                "Emulation.setDeviceMetricsOverride",
                width=1400,
                height=900,
                deviceScaleFactor=1,
                mobile=False,
            )
            session.events.clear()
            await session.call("Page.navigate", url=url)
            await session.wait_event("Page.loadEventFired")
            probe = await session.call("Runtime.evaluate", expression=_PROBE, returnByValue=True)
            check = _read_probe(url, json.loads(probe["result"]["value"]), session.events)
            if screenshot is not None:
                check.screenshot = await _screenshot(session, screenshot)
            session.reader.cancel()
            return check


def _read_probe(url: str, probe: dict[str, Any], events: list[dict[str, Any]]) -> PageCheck:
    check = PageCheck(
        url=url,
        title=probe["title"],
        charts=probe["charts"],
        load_ms=float(probe["load_ms"]),
        text=probe["text"],
    )
    for e in events:
        p = e.get("params", {})
        if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            check.console_errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in p.get("args", []))
            )
        elif e["method"] == "Runtime.exceptionThrown":
            check.console_errors.append(str(p.get("exceptionDetails", {}).get("text")))
        elif e["method"] == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            check.console_errors.append(str(p["entry"].get("text")))
        elif e["method"] == "Network.requestWillBeSent":
            check.requests.append(str(p.get("request", {}).get("url")))
    return check


async def _screenshot(session: _Session, path: Path) -> Path:
    metrics = await session.call("Page.getLayoutMetrics")
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    shot = await session.call(
        "Page.captureScreenshot",
        format="png",
        captureBeyondViewport=True,
        clip={"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))
    return path
