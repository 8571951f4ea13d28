"""chaoskit's typed async client for the Toxiproxy HTTP API.

The rest of chaoskit calls this, never HTTP directly, and it works the same against
the embedded ``ProxyServer`` and a real Toxiproxy (``--toxiproxy-url``). Every
failure is a ``ProxyError``: its message is the server's own error text and
``.status`` the HTTP status (None when the server could not be reached).

``token`` is sent as ``Authorization: Bearer`` on every request (a run's proxy
requires it); every request also names this client (``X-Chaoskit-Client:
<client_id>``) so the audit can tell the controller's changes from anyone else's.
The client keeps a ``Ledger`` of the state its own requests produced; ``drift()``
compares it with the server's (chaoskit/proxy/_drift.py).

Example::

    async with ProxyClient("http://127.0.0.1:8474", token=token) as proxies:
        info = await proxies.create_proxy("n1-n2", "127.0.0.1:0", "127.0.0.1:7002")
        await proxies.add_toxic("n1-n2", "timeout", attributes={"timeout": 0})
        await proxies.update_proxy("n1-n2", enabled=False)      # cut
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from chaoskit.errors import ProxyError
from chaoskit.proxy._audit import ApiChange
from chaoskit.proxy._drift import Drift, Ledger, compare
from chaoskit.proxy._guard import CLIENT_HEADER
from chaoskit.proxy._info import ProxyInfo, ToxicInfo

T = TypeVar("T")


class ProxyClient:
    """Async client of one Toxiproxy-compatible server at ``url``."""

    def __init__(self, url: str, *, timeout: float = 5.0, token: str | None = None) -> None:
        self.url = url.rstrip("/")
        self.client_id = secrets.token_hex(8)
        self.ledger = Ledger()
        headers = {CLIENT_HEADER: self.client_id}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        # Certificate checks only where there is TLS: loading the CA bundle for a
        # plain-HTTP API costs 0.1-0.5 s of every run's start-up (benchmarks/setup_teardown.py).
        verify = self.url.startswith("https://")
        self._http = httpx.AsyncClient(
            base_url=self.url, timeout=timeout, headers=headers, verify=verify
        )

    def __repr__(self) -> str:  # never the token
        return f"ProxyClient({self.url!r}, client_id={self.client_id!r})"

    async def __aenter__(self) -> ProxyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, json: Any = None) -> Any:
        """One request; the decoded JSON answer (None for 204) or a ProxyError."""
        try:
            response = await self._http.request(method, path, json=json)
        except httpx.HTTPError as exc:
            raise ProxyError(f"fault proxy at {self.url} unreachable: {exc}") from exc
        if response.status_code >= 400:
            raise ProxyError(_error_text(response), status=response.status_code)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text
        except RecursionError:
            raise ProxyError(
                f"fault proxy at {self.url} answered nested JSON: not Toxiproxy"
            ) from None

    async def _read(
        self, method: str, path: str, decode: Callable[[Any], T], json: Any = None
    ) -> T:
        """One request whose answer ``decode`` turns into chaoskit's shape. A server that
        answers something else (not Toxiproxy, or a broken one) is a ``ProxyError``
        naming the request, never a ``KeyError`` from deep inside a run."""
        answer = await self._call(method, path, json)
        try:
            return decode(answer)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise ProxyError(
                f"fault proxy at {self.url} answered {method} {path} with something that is "
                f"not Toxiproxy's answer ({type(exc).__name__}: {exc}): {answer!r:.80}"
            ) from None

    # -- server ------------------------------------------------------------------
    async def version(self) -> str:
        """The server's version (old Toxiproxy answers plain text, newer JSON)."""
        answer = await self._call("GET", "/version")
        if isinstance(answer, dict):
            return str(answer.get("version", ""))
        return str(answer).strip()

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        await self._call("POST", "/reset")
        self.ledger.reset()

    async def changes(self, after: int = 0) -> tuple[list[ApiChange], int, int]:
        """The embedded server's audit after change number ``after``: the changes,
        the last number (pass it next time) and how many were dropped unread."""

        def decode(answer: Any) -> tuple[list[ApiChange], int, int]:
            changes = [ApiChange.from_json(c) for c in answer.get("changes") or []]
            return changes, int(answer.get("last", after)), int(answer.get("dropped", 0))

        return await self._read("GET", f"/chaoskit/changes?after={int(after)}", decode)

    async def drift(self, prefix: str | None = None) -> list[Drift]:
        """How the server's proxies differ from what this client set (``prefix``: also
        report unknown proxies whose names start with it)."""
        return compare(self.ledger.proxies, await self.proxies(), prefix)

    # -- proxies -----------------------------------------------------------------
    async def proxies(self) -> dict[str, ProxyInfo]:
        return await self._read(
            "GET", "/proxies", lambda a: {str(n): _proxy_info(d) for n, d in a.items()}
        )

    async def create_proxy(
        self, name: str, listen: str, upstream: str, enabled: bool = True
    ) -> ProxyInfo:
        """Create a proxy; ``listen`` with port 0 gets a free port, reported back."""
        body = {"name": name, "listen": listen, "upstream": upstream, "enabled": enabled}
        info = await self._read("POST", "/proxies", _proxy_info, body)
        self.ledger.proxy(info, with_toxics=True)
        return info

    async def get_proxy(self, name: str) -> ProxyInfo:
        return await self._read("GET", f"/proxies/{_quote(name)}", _proxy_info)

    async def update_proxy(
        self,
        name: str,
        *,
        enabled: bool | None = None,
        listen: str | None = None,
        upstream: str | None = None,
    ) -> ProxyInfo:
        """Change a proxy; ``enabled=False`` refuses new and closes open connections."""
        body = {
            key: value
            for key, value in (("enabled", enabled), ("listen", listen), ("upstream", upstream))
            if value is not None
        }
        info = await self._read("POST", f"/proxies/{_quote(name)}", _proxy_info, body)
        self.ledger.proxy(info)
        return info

    async def delete_proxy(self, name: str) -> None:
        await self._call("DELETE", f"/proxies/{_quote(name)}")
        self.ledger.forget(name)

    async def populate(self, proxies: Iterable[Mapping[str, Any]]) -> list[ProxyInfo]:
        """Create or replace many proxies at once (dicts with name/listen/upstream)."""
        body = [dict(p) for p in proxies]
        infos = await self._read(
            "POST", "/populate", lambda a: [_proxy_info(p) for p in a.get("proxies") or []], body
        )
        for info in infos:
            self.ledger.proxy(info, with_toxics=True)
        return infos

    # -- toxics ------------------------------------------------------------------
    async def toxics(self, proxy: str) -> list[ToxicInfo]:
        path = f"/proxies/{_quote(proxy)}/toxics"
        return await self._read("GET", path, lambda a: [ToxicInfo.from_json(t) for t in a])

    async def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: Mapping[str, Any] | None = None,
        name: str | None = None,
    ) -> ToxicInfo:
        """Add a toxic; it takes effect on connections already open too."""
        body: dict[str, Any] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        if name is not None:
            body["name"] = name
        path = f"/proxies/{_quote(proxy)}/toxics"
        info = await self._read("POST", path, ToxicInfo.from_json, body)
        self.ledger.toxic(proxy, info)
        return info

    async def get_toxic(self, proxy: str, name: str) -> ToxicInfo:
        path = f"/proxies/{_quote(proxy)}/toxics/{_quote(name)}"
        return await self._read("GET", path, ToxicInfo.from_json)

    async def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        attributes: Mapping[str, Any] | None = None,
        toxicity: float | None = None,
    ) -> ToxicInfo:
        """Change a toxic's attributes (merged over the old ones) or toxicity."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if toxicity is not None:
            body["toxicity"] = toxicity
        path = f"/proxies/{_quote(proxy)}/toxics/{_quote(name)}"
        info = await self._read("POST", path, ToxicInfo.from_json, body)
        self.ledger.toxic(proxy, info)
        return info

    async def remove_toxic(self, proxy: str, name: str) -> None:
        await self._call("DELETE", f"/proxies/{_quote(proxy)}/toxics/{_quote(name)}")
        self.ledger.drop_toxic(proxy, name)


def _proxy_info(data: Any) -> ProxyInfo:
    """A proxy as the server reports it, with a listen address that has a port."""
    info = ProxyInfo.from_json(data)
    info.listen_port  # noqa: B018 - raises ValueError now rather than in the launch
    return info


def _quote(segment: str) -> str:
    """A path segment with '/', '?', '#' and '%' escaped."""
    return quote(segment, safe="")


def _error_text(response: httpx.Response) -> str:
    """Toxiproxy's error text from a failed answer, whatever its shape."""
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    text = response.text.strip()
    return text or f"HTTP {response.status_code}"
