"""The ``etcd`` target: a real etcd 3.4 cluster on loopback, peer traffic through the proxy.

``EtcdTarget`` (``chaoskit.targets.etcd.target``) launches the Debian ``etcd-server`` binary;
``_command`` builds a member's command line and ``_gateway`` speaks etcd's JSON
gateway (status, KV, compare-and-set), both shared with the ``etcd_election`` example.
"""
