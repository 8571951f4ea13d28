"""The fault proxy: an embedded Toxiproxy-compatible server and the client for it.

Every message between two nodes goes through a proxy that chaoskit controls; cutting
(``enabled=False``), hanging (a ``timeout`` toxic of 0 on both streams), delaying and
throttling links are all requests to the Toxiproxy HTTP API. ``ProxyServer`` serves
that API inside the controller's event loop; ``ProxyClient`` drives it, or a real
Toxiproxy given its URL.

Example::

    async with ProxyServer(port=0, seed=1) as server:
        async with ProxyClient(server.url) as client:
            link = await client.create_proxy("n1-n2", "127.0.0.1:0", "127.0.0.1:7002")
            await client.add_toxic("n1-n2", "latency", attributes={"latency": 100})
"""

from chaoskit.proxy._client import ProxyClient, ProxyInfo, ToxicInfo
from chaoskit.proxy._server import ProxyServer, serve

__all__ = ["ProxyClient", "ProxyInfo", "ProxyServer", "ToxicInfo", "serve"]
