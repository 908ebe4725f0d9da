"""One SQLite file, one connection, one lock: how every station database is opened and migrated.

The GUI uses a database from worker threads, so the connection is shared (`check_same_thread=False`)
and every use goes through one re-entrant lock. Writes run in explicit `BEGIN IMMEDIATE` transactions:
the write lock is taken up front, so two processes on the same file (GUI and CLI) queue instead of
failing half-way with "database is locked". WAL lets readers in other processes go on during a write.
Schemas are versioned with `PRAGMA user_version` and migrated one version per transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from app.domain.errors import StationError, StorageError
from app.system.private_files import private_dir, private_file, tighten
from app.system.sqlite_errors import default_busy_timeout_ms, error_class, translate

WAL_LIMIT_BYTES = 32 * 1024 * 1024  # after a checkpoint the log shrinks back to this


class SqliteFile:
    """Owns the connection; hands it out only inside `read()`, `write()` or `session()` under the lock.

    `what` names the file for people ("instance database"); `error` is the StationError subclass its
    failures are raised as, so each database keeps errors of its own kind. A lock held by another
    program past `busy_timeout_ms` (default: `default_busy_timeout_ms()`, 10 s) is a `DatabaseBusyError`,
    a full disk or a read-only file a `StorageError`; both are also `error` (see `sqlite_errors`).
    The file and its folder are private to the user (0600, 0700).
    """

    def __init__(
        self,
        path: Path,
        *,
        what: str,
        error: type[StationError],
        cache_kib: int | None = None,
        busy_timeout_ms: int | None = None,
    ) -> None:
        self.path = path
        self.what = what
        self.error = error
        self.busy_timeout_ms = default_busy_timeout_ms() if busy_timeout_ms is None else busy_timeout_ms
        self._lock = threading.RLock()
        self._create_privately()
        try:
            self._conn = self._connect(cache_kib)
        except sqlite3.Error as exc:
            raise self._typed(exc) or error(f"cannot open the {what} {path}: {exc}") from None
        except OSError as exc:
            raise error(f"cannot open the {what} {path}: {exc.strerror or exc}") from None
        for suffix in ("-wal", "-shm"):  # SQLite gives them the database's mode; an old file may be looser
            tighten(Path(f"{path}{suffix}"))
        self._closed = False

    def _create_privately(self) -> None:
        """The folder 0700 and the file 0600 before SQLite opens it, so no umask decides who may read it."""
        try:
            private_dir(self.path.parent, what=f"folder of the {self.what}")
            if not self.path.is_dir():  # a folder in its place: connect says "cannot open"
                private_file(self.path, what=self.what)
        except StorageError as exc:
            raise error_class(StorageError, self.error)(str(exc)) from None

    def _connect(self, cache_kib: int | None) -> sqlite3.Connection:
        timeout_ms = self.busy_timeout_ms
        conn = sqlite3.connect(
            str(self.path), isolation_level=None, check_same_thread=False, timeout=timeout_ms / 1000
        )
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
            if cache_kib:
                conn.execute(f"PRAGMA cache_size = -{int(cache_kib)}")
        except BaseException:
            conn.close()
            raise
        return conn

    def _typed(self, exc: sqlite3.Error) -> StationError | None:
        return translate(exc, path=self.path, what=self.what, own=self.error)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """Busy and storage failures inside a use become typed errors; other SQLite errors pass unchanged."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            typed = self._typed(exc)
            if typed is None:
                raise
            raise typed from None

    @contextmanager
    def session(self) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, outside any transaction (for migrations, which manage their own)."""
        with self._lock, self._translated():
            yield self._connection()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries (a count and its page agree)."""
        with self._lock, self._translated():
            conn = self._connection()
            if conn.in_transaction:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:  # SQLite ends the transaction itself on some errors
                    conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything inside is committed together or not at all."""
        with self._lock, self._translated():
            conn = self._connection()
            if conn.in_transaction:
                raise RuntimeError("nested write transaction")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                rollback(conn)
                raise

    def migrate(self, migrations: Sequence[str], advice: str) -> int:
        """Bring the schema to the newest version; return the version it was at before."""
        with self.session() as conn:
            return migrate(conn, migrations, what=f"{self.what} {self.path}", error=self.error, advice=advice)

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
            raise self.error(f"the {self.what} {self.path} is closed")
        return self._conn


def migrate(
    conn: sqlite3.Connection, migrations: Sequence[str], *, what: str, error: type[StationError], advice: str
) -> int:
    """Apply the migrations the file lacks, one version per transaction; return the version before.

    A file written by a newer station is refused with `advice` for the person.
    """
    before = user_version(conn)
    if before > len(migrations):
        raise error(
            f"the {what} has schema version {before}, newer than this station understands "
            f"({len(migrations)}): it was written by a newer station; {advice}"
        )
    for version in range(before + 1, len(migrations) + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            if user_version(conn) >= version:  # another process migrated while we waited
                conn.execute("ROLLBACK")
                continue
            for statement in split_statements(migrations[version - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            rollback(conn)
            raise
    return before


def rollback(conn: sqlite3.Connection) -> None:
    """Undo the open transaction unless SQLite already has (it does on SQLITE_FULL).

    A failing rollback must not hide the error that made it necessary, so its own error is dropped.
    """
    if conn.in_transaction:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def user_version(conn: sqlite3.Connection) -> int:
    value: int = conn.execute("PRAGMA user_version").fetchone()[0]
    return value


def split_statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit our transaction).

    Pieces are joined until SQLite says the statement is complete, so a ';' inside a string or a
    trigger body does not split it.
    """
    statements, current = [], ""
    for piece in script.split(";"):
        current += piece + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \n\t;"):
                statements.append(current.strip())
            current = ""
    return statements


def now() -> datetime:
    return datetime.now(UTC)


def to_ms(moment: datetime) -> int:
    """Timestamps are stored as integer milliseconds since the Unix epoch, UTC: compact and sortable."""
    return int(moment.timestamp() * 1000)


def now_ms() -> int:
    return to_ms(now())


def from_ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, tz=UTC)
