"""The ``etcd-election`` example: clients that campaign for leadership through etcd.

Each node is a small campaigning client (``python -m chaoskit.targets.etcd_election``) with
its own etcd member beside it: it holds a lease with a short TTL, campaigns with
etcd's election API and says on ``GET /status`` whether it believes it leads. Under
``pause-leader`` chaoskit shows the classic lease problem (docs/etcd-election.md).
"""
