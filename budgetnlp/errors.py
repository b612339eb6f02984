"""One exception tree that the CLI and the batch scorer catch.

    BudgetNLPError
     ├── InputError(path, reason, location)   a file or value that cannot be used
     ├── ModelError                            a model folder that cannot be loaded or trained
     └── ConfigError                           a configuration that fails its checks
"""

from __future__ import annotations


class BudgetNLPError(Exception):
    """Base of every error budgetnlp raises on purpose."""


class InputError(BudgetNLPError):
    """A file (or one of its tables/rows) that cannot be used, and why."""

    def __init__(self, path: object, reason: str, location: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.location = location
        where = f"{self.path} ({location})" if location else self.path
        super().__init__(f"{where}: {reason}")


class ModelError(BudgetNLPError):
    """A model that cannot be trained, saved or loaded."""


class ConfigError(BudgetNLPError):
    """A configuration file or option that fails its checks."""
