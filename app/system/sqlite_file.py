"""One SQLite file, one writer, one lock: how every station database is opened and migrated.

The GUI uses a database from worker threads, so the writing connection is shared
(`check_same_thread=False`) and every write goes through one re-entrant lock. Writes run in explicit
`BEGIN IMMEDIATE` transactions: the write lock is taken up front, so two processes on the same file
(GUI and CLI) queue instead of failing half-way with "database is locked". A write that cannot get the
lock within the busy timeout is a `DatabaseBusyError` that says so, never a hang or a traceback.

WAL lets readers go on during a write. With `read_connections=True` this process's own reads use that
too: each `read()` borrows a connection from a small pool of read-only ones, so a dashboard does not
queue behind a million-ID import on the writer (the instance database and the server's use this).
Inside a `write()` a read on the same thread uses the writer, so it sees the uncommitted change.
Schemas are versioned with `PRAGMA user_version` and migrated one version per transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path

from app.domain.errors import DatabaseBusyError, StationError, StorageError
from app.system.private_files import private_dir, private_file, tighten
from app.system.sqlite_errors import default_busy_timeout_ms, error_class, translate

WAL_LIMIT_BYTES = 32 * 1024 * 1024  # after a checkpoint the log shrinks back to this
IDLE_READERS = 4  # read connections kept open between reads; more are opened when reads overlap


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
        read_connections: bool = False,
    ) -> None:
        self.path = path
        self.what = what
        self.error = error
        self.busy_timeout_ms = default_busy_timeout_ms() if busy_timeout_ms is None else busy_timeout_ms
        self._lock = threading.RLock()
        self._holder = threading.local()  # how deep this thread is inside the lock
        self._read_connections = read_connections
        self._idle_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
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

    def _connect(self, cache_kib: int | None, *, reader: bool = False) -> sqlite3.Connection:
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
            if reader:
                conn.execute("PRAGMA query_only = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _typed(self, exc: sqlite3.Error) -> StationError | None:
        return translate(exc, path=self.path, what=self.what, own=self.error)

    @contextmanager
    def _translated(self, *, reading: bool = False) -> Iterator[None]:
        """Busy and storage failures inside a use become typed errors; other SQLite errors pass unchanged.

        A write attempted inside `read()` is refused by the read connection as "readonly": that is a
        bug in the caller, not a disk a person must fix, so it stays a plain SQLite error.
        """
        try:
            yield
        except sqlite3.OperationalError as exc:
            if reading and getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_READONLY:
                raise
            typed = self._typed(exc)
            if typed is None:
                raise
            raise typed from None

    @contextmanager
    def _held(self, *, timeout_s: float = -1) -> Iterator[None]:
        """The lock, waited for at most `timeout_s` (-1: as long as it takes)."""
        if not self._lock.acquire(timeout=timeout_s):
            raise error_class(DatabaseBusyError, self.error)(
                f"the {self.what} is busy with another write (waited {timeout_s:g} s); "
                "try again when it has finished"
            )
        self._holder.depth = getattr(self._holder, "depth", 0) + 1
        try:
            yield
        finally:
            self._holder.depth -= 1
            self._lock.release()

    @contextmanager
    def session(self) -> Iterator[sqlite3.Connection]:
        """The connection under the lock, outside any transaction (for migrations, which manage their own)."""
        with self._held(), self._translated():
            yield self._connection()

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several queries (a count and its page agree)."""
        if self._read_connections and not getattr(self._holder, "depth", 0):
            with self._reader() as reader, self._translated(reading=True), _snapshot(reader):
                yield reader
            return
        with self._held(), self._translated():
            conn = self._connection()
            if conn.in_transaction:
                yield conn
                return
            with _snapshot(conn):
                yield conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything inside is committed together or not at all.

        Another write of this process holding the lock past the busy timeout is a `DatabaseBusyError`.
        """
        with self._held(timeout_s=self.busy_timeout_ms / 1000), self._translated():
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

    @contextmanager
    def _reader(self) -> Iterator[sqlite3.Connection]:
        """A read-only connection of the pool, for this thread alone until the block ends."""
        with self._readers_lock:
            if self._closed:
                raise self.error(f"the {self.what} {self.path} is closed")
            conn = self._idle_readers.pop() if self._idle_readers else None
        if conn is None:
            try:
                conn = self._connect(None, reader=True)
            except sqlite3.Error as exc:
                raise self._typed(exc) or self.error(
                    f"cannot open the {self.what} {self.path}: {exc}"
                ) from None
        try:
            yield conn
        finally:
            with self._readers_lock:
                keep = not self._closed and len(self._idle_readers) < IDLE_READERS and not conn.in_transaction
                if keep:
                    self._idle_readers.append(conn)
            if not keep:
                conn.close()

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
            with self._readers_lock:
                idle, self._idle_readers = self._idle_readers, []
                was_closed, self._closed = self._closed, True
            for reader in idle:
                reader.close()
            if not was_closed:
                self._conn.close()

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise self.error(f"the {self.what} {self.path} is closed")
        return self._conn


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN")
    try:
        yield
    finally:
        if conn.in_transaction:  # SQLite ends the transaction itself on some errors
            conn.execute("COMMIT")


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
