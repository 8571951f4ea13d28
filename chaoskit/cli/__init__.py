"""The ``chaoskit`` command line.

Owns: the commands (main.py) and the terminal summary of a run (summary.py). Every
``ChaoskitError`` becomes one line on stderr and exit status 2.

May import: anything in chaoskit.
"""
