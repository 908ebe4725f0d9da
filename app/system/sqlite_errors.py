"""What SQLite's resource failures mean to a person, as typed errors: a lock to wait for, or a disk to fix.

`sqlite3.OperationalError` covers a syntax slip and a full disk alike; only its result code tells them
apart. Two kinds matter to everyone above this layer, whichever database failed:

- busy (SQLITE_BUSY, SQLITE_LOCKED): another program holds the write lock past our wait. Nothing was
  changed and trying again later works, so it is a `DatabaseBusyError` (an `InstanceUnavailableError`):
  a push can be queued, a person told to wait.
- storage (SQLITE_FULL, SQLITE_READONLY, SQLITE_PERM, SQLITE_IOERR, SQLITE_CANTOPEN): the file cannot
  be written until the person frees space or fixes permissions, so it is a `StorageError`.

Each database also has an error class of its own (`RecordsError`, the instance's `DatabaseError`) that
its callers already catch. The error raised is of both classes (`error_class`), so neither kind of
caller is surprised. Any other SQLite error is left as it is: it is a bug to see, not a sentence.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import cast

from app.domain.errors import DatabaseBusyError, StationError, StorageError

ENV_BUSY_TIMEOUT = "QL_STATION_BUSY_TIMEOUT_MS"
BUSY_TIMEOUT_MS = 10_000

_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
_STORAGE_CODES = frozenset(
    {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM}
    | {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN}
)

_COMBINED: dict[tuple[type[StationError], type[StationError]], type[StationError]] = {}


def default_busy_timeout_ms() -> int:
    """How long to wait for another program's write lock: 10 s, or `QL_STATION_BUSY_TIMEOUT_MS`.

    The variable is read here and nowhere else; tests and scripts that would rather fail fast set it.
    """
    try:
        value = int(os.environ.get(ENV_BUSY_TIMEOUT, ""))
    except ValueError:
        return BUSY_TIMEOUT_MS
    return value if value >= 0 else BUSY_TIMEOUT_MS


def translate(exc: sqlite3.Error, *, path: Path, what: str, own: type[StationError]) -> StationError | None:
    """The typed error for a busy or storage failure of the `what` at `path`; None for any other."""
    code = _primary_code(exc)
    if code in _BUSY_CODES:
        return error_class(DatabaseBusyError, own)(
            f"the {what} {path} is locked by another program (another ql-station?); "
            "try again when it has finished"
        )
    if code in _STORAGE_CODES:
        return error_class(StorageError, own)(_storage_sentence(code, exc, path, what))
    return None


def error_class(kind: type[StationError], own: type[StationError]) -> type[StationError]:
    """A class that is both `kind` (busy, storage) and `own` (the database's error class), made once."""
    if issubclass(kind, own):
        return kind
    if issubclass(own, kind):
        return own
    key = (kind, own)
    if key not in _COMBINED:
        name = f"{kind.__name__}[{own.__name__}]"
        namespace = {"__doc__": kind.__doc__, "__module__": __name__}
        _COMBINED.setdefault(key, cast(type[StationError], type(name, (kind, own), namespace)))
    return _COMBINED[key]


def _primary_code(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF


def _storage_sentence(code: int | None, exc: sqlite3.Error, path: Path, what: str) -> str:
    if code == sqlite3.SQLITE_FULL:
        return (
            f"cannot write the {what} {path}: the disk is full ({exc}); "
            f"free space on the disk holding {path.parent} and try again"
        )
    if code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM):
        return (
            f"cannot write the {what} {path}: it is read-only ({exc}); give this user write access to it "
            f"and to {path.parent}, or choose another data folder"
        )
    if code == sqlite3.SQLITE_CANTOPEN:
        return (
            f"cannot open the {what} {path} ({exc}); check that {path.parent} is a folder this user may "
            "write to, or choose another data folder"
        )
    return (
        f"cannot read or write the {what} {path}: the disk reported an error ({exc}); check the disk "
        "and the free space on it, then try again"
    )
