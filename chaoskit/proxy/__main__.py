"""``python -m chaoskit.proxy``: the ``chaoskit proxy`` command on its own."""

from chaoskit.proxy._cli import proxy_command

proxy_command(prog_name="chaoskit proxy")
