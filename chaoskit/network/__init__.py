"""The fault network: per-direction control of the links between nodes.

Owns: links through a Toxiproxy-compatible API, a proxy per ordered pair or one per
destination (toxiproxy.py); telling a connection's source node apart through the
kernel, for destination-mode proxies (sources.py); link faults made with iptables
inside containers (iptables.py). Each network implements
``chaoskit.core.network.Network``.

May import: ``chaoskit.errors``, ``core``, ``proxy``.
"""
