"""The local instance's database file: a `SqliteFile` with the instance's error type and cache size.

Everything about the connection, locking and transactions is in `app.system.sqlite_file`, shared with
the station's other databases; this module adds what is the instance's own: a large cache for bulk
imports, and reads on connections of their own beside the writer, so the dashboard, a listing or a
paging window answer while a million-ID import is being written.
"""

from __future__ import annotations

from pathlib import Path

from app.domain.errors import StationError
from app.system.sqlite_file import SqliteFile, from_ms, now, now_ms, to_ms

__all__ = ["CACHE_KIB", "Database", "DatabaseError", "from_ms", "now", "now_ms", "to_ms"]

CACHE_KIB = 64 * 1024  # a bulk import touches a large part of the device-id index at random


class DatabaseError(StationError):
    """The instance database cannot be opened or used (unreadable file, newer schema, disk full).

    A lock held by another program is also a `DatabaseBusyError`, a full or read-only disk also a
    `StorageError` (see `app.system.sqlite_errors`).
    """


class Database(SqliteFile):
    def __init__(self, path: Path, *, busy_timeout_ms: int | None = None) -> None:
        super().__init__(
            path,
            what="instance database",
            error=DatabaseError,
            cache_kib=CACHE_KIB,
            busy_timeout_ms=busy_timeout_ms,
            read_connections=True,
        )
