"""The ``zk-election`` example: candidates elected with kazoo's ZooKeeper Election recipe.

Each node is a small candidate (``python -m chaoskit.targets.zk_election``) with its own
ZooKeeper server beside it: the servers form one ensemble, each candidate holds a
kazoo session with a short timeout, campaigns with ``Election`` (the ``Lock`` recipe:
an ephemeral sequential znode, the lowest one leads) and says on ``GET /status``
whether it believes it leads. Under ``pause-leader`` chaoskit shows what happens to
a paused leader whose session expired (docs/zookeeper.md).
"""
