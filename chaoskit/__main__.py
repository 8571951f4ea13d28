"""``python -m chaoskit`` is the ``chaoskit`` command."""

from chaoskit.cli.main import main

main()
