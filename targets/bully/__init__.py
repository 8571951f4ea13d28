"""The reference Bully target: leader election that splits under partition, on purpose.

``python -m chaoskit.targets.bully`` runs one node; ``BullyTarget``
(``chaoskit.targets.bully.target``) tells chaoskit how to launch and query a cluster of them.
"""
