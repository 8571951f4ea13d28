"""The ``nats`` target: a real NATS JetStream cluster under chaoskit's faults.

``NatsTarget`` (``chaoskit.targets.nats.target``) starts Debian's ``nats-server`` by hand on
127.0.0.1, one process per node, with route (cluster) traffic through the fault
proxies, leadership from the monitoring endpoint (``/jsz``), and ``register`` (a KV
bucket with compare-and-set by revision) and ``set`` (a stream with acknowledged
publishes) through a ``nats-py`` client plug-in.
"""

from chaoskit.targets.nats.target import NatsTarget

__all__ = ["NatsTarget"]
