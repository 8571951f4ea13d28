"""Nodes on other machines, reached over SSH (``--runtime ssh``).

A control node (the machine chaoskit runs on) reaches every host of an inventory
over SSH, as Jepsen does: it starts, signals and stops the nodes' processes there,
faults the links between hosts with iptables rules that carry the run's id, rewrites
per-node libfaketime files (and, opted in, steps the host clock), and removes all of
it at the end, or later with ``cleanup_inventory`` when the controller was killed.

Modules, one job each:

``inventory``  the TOML inventory (hosts, users, keys, data dirs), validated
``ssh``        a pool of one reused SSH connection per host, time-outs, one-line errors
``processes``  a node's process on a host: start detached, signal its group, watch it
``iptables``   rule shapes with the run's comment, listing and deleting a run's rules
``network``    ``SshIptablesNetwork``: the Network protocol over those rules
``clock``      ``SshClock``: per-node libfaketime files on the hosts, the host clock
``runtime``    ``SshRuntime``: the Runtime protocol, placements, tunnels
``cleanup``    ``cleanup_inventory``: what a killed run left on the hosts
``testhosts``  the SSH host image the tests (and a curious user) run hosts in
"""
