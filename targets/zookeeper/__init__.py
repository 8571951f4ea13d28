"""The ``zookeeper`` target: a real ZooKeeper 3.8 ensemble under chaoskit's faults.

``ZooKeeperTarget`` (``chaoskit.targets.zookeeper.target``) starts Debian's ZooKeeper by hand
on 127.0.0.1, one JVM per node, with quorum and election traffic through the fault
proxies, leadership from ``srvr`` and register ops through kazoo.
"""

from chaoskit.targets.zookeeper.target import ZooKeeperTarget

__all__ = ["ZooKeeperTarget"]
