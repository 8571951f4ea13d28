"""The ``patroni`` target: Patroni-managed PostgreSQL with a 3-member etcd, by hand.

``PatroniTarget`` (``chaoskit.targets.patroni.target``) runs, per chaoskit node, an etcd member,
Patroni and its PostgreSQL in one process group (``_node.py``), with etcd peer
traffic, Patroni's REST calls and PostgreSQL replication through the fault proxies;
the leader is the primary Patroni's REST API reports; ``register`` and ``set`` run as
SQL through a psycopg client plug-in.
"""

from chaoskit.targets.patroni.target import PatroniTarget

__all__ = ["PatroniTarget"]
