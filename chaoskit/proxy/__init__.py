"""The fault proxy: an embedded Toxiproxy-compatible server and the client for it.

Every message between two nodes goes through a proxy that chaoskit controls; cutting
(``enabled=False``), hanging (a ``timeout`` toxic of 0 on both streams), delaying and
throttling links are all requests to the Toxiproxy HTTP API. ``ProxyServer`` serves
that API inside the controller's event loop; ``ProxyClient`` drives it, or a real
Toxiproxy given its URL.

Example::

    token = secrets.token_urlsafe(32)
    async with ProxyServer(port=0, seed=1, token=token) as server:
        async with ProxyClient(server.url, token=token) as client:
            link = await client.create_proxy("n1-n2", "127.0.0.1:0", "127.0.0.1:7002")
            await client.add_toxic("n1-n2", "latency", attributes={"latency": 100})

Who may drive it (the design; docs/security.md is the user's view)
-------------------------------------------------------------------
A fault API nobody else can drive: a link disabled by someone else is a fault the
run never records, and a relay opened by someone else is a hole in the machine.

- **A run's API: a per-run bearer token.** The controller draws
  ``secrets.token_urlsafe(32)`` and gives it to its ``ProxyServer`` and
  ``ProxyClient``; every request must carry ``Authorization: Bearer <token>``
  (compared in constant time; 401 otherwise). Chosen over a 0600 Unix socket because
  one mechanism then covers every runtime: the API of the Docker proxy container is
  reached over a TCP port published on 127.0.0.1 (a socket file bind-mounted out of a
  container works only where the engine shares the host's file system and uids), and
  ``--toxiproxy-url`` and every Toxiproxy-shaped client speak HTTP over TCP. The
  token lives in the controller's memory only: never in argv (``/proc/PID/cmdline`` is
  world-readable), never in ``config.json`` or logs. The proxy container receives it
  in its environment (``CHAOSKIT_PROXY_TOKEN``; ``/proc/PID/environ`` is readable only
  by the process owner and root, and ``docker inspect`` only by those who already
  control the engine) or from a 0600 file (``--token-file``).
- **The standalone ``chaoskit proxy``** stays usable by Toxiproxy clients that cannot
  send a token (toxiproxy-python): no token by default, so any *local* process may
  use it; browsers and other machines may not. ``--token-file`` (or
  ``CHAOSKIT_PROXY_TOKEN``) requires one.
- **Browsers and DNS rebinding** (every server, token or not): ``Host`` must be a
  loopback name or address (or ``allow_hosts``, or the specific address the API is
  bound to; the port is not compared, see ``_policy``), else 421; a request with an
  ``Origin`` not in ``allow_origins`` is 403, as is a ``Mozilla/`` agent; POST/PATCH/
  PUT bodies must be declared ``application/json`` (415), which a page cannot send
  cross-site without a CORS preflight that this server never grants.
- **What may be asked:** proxies (and the API) listen on loopback only unless
  ``allow_remote_listen`` (the proxy container, where ``0.0.0.0`` is the run's
  private network); upstreams in link-local or cloud-metadata ranges are refused
  (403) unless ``allow_metadata_upstream``, also when a name resolves there at
  connect time. Other upstreams are allowed by default because real uses need them
  (Toxiproxy in CI relays to ``postgres:5432``; a Docker run's upstreams are its
  container names), and a local user gains no reach by relaying through a proxy it
  could not already connect to itself. Where the upstreams are known the caller
  narrows them: ``allow_upstreams`` (loopback plus CIDRs and ``*`` name patterns); a
  local run's controller passes ``()``: loopback only.
- **Who may connect:** ``allow_clients`` (networks) refuses every other peer before
  anything else. The Docker proxy container passes loopback and its network's
  gateway (``proxy_entry --allow-client gateway``), through which the published port
  arrives, so the nodes (same network) cannot even reach the API, token or not.
- **Tampering cannot hide:** every mutating request, accepted or refused, becomes an
  ``ApiChange`` for the ``on_change`` hook and ``GET /chaoskit/changes``;
  ``AuditTrail`` writes the ones the controller did not make into the nemesis stream
  as ``{"type": "api", ...}`` records (shape in ``_audit``). With an external
  Toxiproxy there is no hook; ``ProxyClient.drift()`` compares the proxies' state with
  what the client set, giving ``{"type": "drift", ...}`` records (``_drift``).
"""

from chaoskit.proxy._audit import ApiChange, AuditTrail, api_record
from chaoskit.proxy._client import ProxyClient
from chaoskit.proxy._drift import Drift
from chaoskit.proxy._info import ProxyInfo, ToxicInfo
from chaoskit.proxy._policy import Policy
from chaoskit.proxy._server import ProxyServer, serve

__all__ = [
    "ApiChange",
    "AuditTrail",
    "Drift",
    "Policy",
    "ProxyClient",
    "ProxyInfo",
    "ProxyServer",
    "ToxicInfo",
    "api_record",
    "serve",
]
