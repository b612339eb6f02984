"""One exception tree that the CLI and the batch scorer catch.

    BudgetNLPError
     ├── InputError(path, reason, location)   a file or value that cannot be used
     ├── LimitExceeded                         a document over a resource limit (its reader knows no path)
     ├── ModelError                            a model folder that cannot be loaded or trained
     ├── ConfigError                           a configuration that fails its checks
     └── review.errors.ReviewError             the review app: NotFound, ValidationError,
                                               Conflict, Throttled (budgetnlp/review/errors.py)

Every class survives pickling as it is (worker processes and Dask workers send them back):
``__reduce__`` rebuilds each one from its args and attributes without calling its constructor
(whose signature a subclass may change), without relying on a library (tblib) that patches
pickling globally.
"""

from __future__ import annotations


class BudgetNLPError(Exception):
    """Base of every error budgetnlp raises on purpose."""

    def __reduce__(self):
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(cls, args, attributes):
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(attributes)
    return error


class InputError(BudgetNLPError):
    """A file (or one of its tables/rows) that cannot be used, and why."""

    def __init__(self, path: object, reason: str, location: str = "") -> None:
        self.path = str(path)
        self.reason = reason
        self.location = location
        where = f"{self.path} ({location})" if location else self.path
        super().__init__(f"{where}: {reason}")


class LimitExceeded(BudgetNLPError):
    """A document over one of the resource limits (``budgetnlp.extract._limits``); the
    extraction entry point turns it into the file's InputError."""


class ModelError(BudgetNLPError):
    """A model that cannot be trained, saved or loaded."""


class ConfigError(BudgetNLPError):
    """A configuration file or option that fails its checks."""


def plain_error(path: object, exc: BaseException, what: str = "unexpected error") -> InputError:
    """An InputError made of strings only, for anything raised while handling one file: whatever
    ``exc`` holds (an lxml error log, a file handle) need not pickle."""
    if isinstance(exc, InputError) and exc.path == str(path):
        return InputError(exc.path, exc.reason, exc.location)
    if isinstance(exc, BudgetNLPError):
        return InputError(path, str(exc))
    if isinstance(exc, MemoryError):
        return InputError(path, "out of memory while reading this file (split it, or raise the memory available)")
    message = " ".join(str(exc).split())[:300]
    return InputError(path, f"{what} ({type(exc).__name__}{': ' + message if message else ''})")
