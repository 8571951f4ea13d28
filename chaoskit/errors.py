"""The one exception tree of chaoskit.

::

    ChaoskitError                 anything chaoskit reports to a user as one line
    ├── ConfigError               bad input: unknown names, invalid values, spec files
    ├── SetupError                the run could not be carried out (node never started,
    │                             port in use, missing binary, store not writable)
    ├── ProxyError                the fault proxy refused or failed a request
    └── HistoryFormatError        a history file that cannot be parsed

User-facing commands turn every ``ChaoskitError`` into a one-line message and exit
status 2; anything else escaping is a bug in chaoskit.
"""

from __future__ import annotations


class ChaoskitError(Exception):
    """Root of every error chaoskit raises on purpose."""


class ConfigError(ChaoskitError):
    """The user asked for something that does not exist or does not make sense."""


class SetupError(ChaoskitError):
    """The run could not be carried out on this machine."""


class ProxyError(ChaoskitError):
    """The fault proxy API answered with an error or could not be reached."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HistoryFormatError(ChaoskitError):
    """A history file could not be parsed."""
