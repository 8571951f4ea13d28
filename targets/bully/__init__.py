"""The reference Bully target: leader election that splits under partition, on purpose.

``python -m targets.bully`` runs one node; ``BullyTarget`` (``targets.bully.target``)
tells chaoskit how to launch and query a cluster of them.
"""
