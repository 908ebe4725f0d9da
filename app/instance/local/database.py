"""The local instance's one SQLite connection, and the only way to read or write through it.

The GUI calls the instance from worker threads, so the connection is shared (`check_same_thread=False`)
and every use goes through one re-entrant lock. Writes run in explicit `BEGIN IMMEDIATE` transactions:
the write lock is taken up front, so two processes on the same file (GUI and CLI) queue instead of
failing half-way with "database is locked".
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from app.domain.errors import StationError

BUSY_TIMEOUT_MS = 10_000
CACHE_KIB = 64 * 1024  # a bulk import touches a large part of the device-id index at random
WAL_LIMIT_BYTES = 32 * 1024 * 1024  # after a checkpoint the log shrinks back to this


class DatabaseError(StationError):
    """The instance database cannot be opened or used (unreadable file, newer schema, disk full)."""


class Database:
    """Owns the connection; hands it out only inside `read()` or `write()` while holding the lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._conn.execute("PRAGMA temp_store = MEMORY")
            self._conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            self._conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseError(f"cannot open the instance database {path}: {exc}") from None
        self._closed = False

    @contextmanager
    def session(self) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, outside any transaction (for migrations, which manage their own)."""
        with self._lock:
            yield self._connection()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries (a count and its page agree)."""
        with self._lock:
            conn = self._connection()
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything inside is committed together or not at all."""
        with self._lock:
            conn = self._connection()
            if conn.in_transaction:
                raise RuntimeError("nested write transaction")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def file_size(self) -> int:
        """Bytes on disk: the database file plus its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            with suppress(OSError):
                total += Path(str(self.path) + suffix).stat().st_size
        return total

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise DatabaseError(f"the instance database {self.path} is closed")
        return self._conn


def now() -> datetime:
    return datetime.now(UTC)


def now_ms() -> int:
    return to_ms(now())


def to_ms(moment: datetime) -> int:
    """Timestamps are stored as integer milliseconds since the Unix epoch, UTC: compact and sortable."""
    return int(moment.timestamp() * 1000)


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)
