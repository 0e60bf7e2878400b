"""The one error type of the library; the CLI turns it into a message and an exit code."""

from __future__ import annotations


class CostlabError(Exception):
    """An expected failure, with a message for the user and a hint on what to do."""

    exit_code = 2

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class BadInput(CostlabError):
    """Input files or arguments that cannot be used as given."""


class NotALog(BadInput):
    """A whole input file that holds no log records (binary data, or nothing at all)."""


class ConfigError(CostlabError):
    """A config file or flag value that is invalid."""


class StoreLocked(CostlabError):
    """Another process holds the store open for writing."""


class StoreError(CostlabError):
    """The store could not be opened or written."""


class EngineError(CostlabError):
    """The engine a run asked for (a local Ray instance) could not be started."""


class GateFailed(CostlabError):
    """A check ran and its result fails the gate (exit 1, not an input error)."""

    exit_code = 1


class NothingLoaded(CostlabError):
    """Every record or file a command read was bad: it added nothing (exit 3)."""

    exit_code = 3


class RecordError(ValueError):
    """One log record cannot be read; it becomes a row in `rejects` with this reason."""
