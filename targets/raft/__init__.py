"""The reference Raft target: a pure core, an asyncio HTTP shell and a ``Target``.

``python -m targets.raft`` runs one node; ``RaftTarget`` (``targets.raft.target``)
tells chaoskit how to launch and query a cluster of them.
"""
