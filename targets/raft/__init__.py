"""The reference Raft target: a pure core, an asyncio HTTP shell and a ``Target``.

``python -m chaoskit.targets.raft`` runs one node; ``RaftTarget`` (``chaoskit.targets.raft.target``)
tells chaoskit how to launch and query a cluster of them.
"""
