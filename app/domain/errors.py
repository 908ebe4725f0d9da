"""Typed errors with a message a person can act on.

Code below the UI raises these; the CLI prints `str(error)` to stderr and the GUI shows it in its one
error sink. None of them is meant to carry a traceback to a person.
"""


class StationError(Exception):
    """Base of every error the station reports to a person."""


class ValidationError(StationError, ValueError):
    """An input (typed by a person, read from a file, or sent by a device) is not acceptable."""


class NotFoundError(StationError, LookupError):
    """A named thing (batch, key, task, user, image) does not exist."""


class ConflictError(StationError):
    """The change would clash with what exists (a duplicate name, a key still in use)."""


class PermissionDeniedError(StationError):
    """The signed-in user's role does not allow this operation."""


class SecretUnavailableError(StationError):
    """A secret is needed (e.g. the key that protects instance private keys) and none was given."""


class InstanceUnavailableError(StationError):
    """The instance cannot be asked right now; nothing was changed, so a caller may queue and retry.

    Its database is locked by another program past the wait, or the network is down.
    """


class DatabaseBusyError(InstanceUnavailableError):
    """A station database is locked by another program for longer than the station waits.

    Another ql-station or a backup tool holds its write lock; retrying once it has finished works.
    """


class StorageError(StationError):
    """A station file cannot be created or written: disk full, read-only file system, no permission.

    Retrying does not help until the person acts, so the message names the file and what to do.
    """
