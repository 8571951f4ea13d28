"""``python -m chaoskit`` is the ``chaoskit`` command."""

from chaoskit._cli import main

main()
