"""The curated public surface of ``chaoskit.proxy``."""

from __future__ import annotations

import chaoskit.proxy


def test_public_names() -> None:
    assert sorted(chaoskit.proxy.__all__) == [
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
    for name in chaoskit.proxy.__all__:
        assert getattr(chaoskit.proxy, name).__doc__, name


def test_proxy_info_port() -> None:
    info = chaoskit.proxy.ProxyInfo("a", "[::1]:4321", "127.0.0.1:1", True)
    assert info.listen_port == 4321
