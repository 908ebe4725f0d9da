"""Busy and storage failures of a real SQLite file become typed sentences; everything else is left alone."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import DatabaseBusyError, InstanceUnavailableError, StationError, StorageError
from app.system.sqlite_errors import BUSY_TIMEOUT_MS, ENV_BUSY_TIMEOUT, default_busy_timeout_ms
from app.system.sqlite_file import SqliteFile
from tests.system.permission_probe import needs_file_modes


class ThingError(StationError):
    pass


LOCKED = "is locked by another program (another ql-station?); try again when it has finished"


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqliteFile]:
    thing = SqliteFile(tmp_path / "t.sqlite3", what="thing store", error=ThingError, busy_timeout_ms=100)
    with thing.write() as conn:
        conn.execute("CREATE TABLE t (x TEXT)")
    yield thing
    thing.close()


def _count(db: SqliteFile) -> int:
    with db.read() as conn:
        value: int = conn.execute("SELECT count(*) FROM t").fetchone()[0]
        return value


def test_a_lock_held_by_another_process_is_a_busy_error(db: SqliteFile) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(db.path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        started = time.monotonic()
        with pytest.raises(DatabaseBusyError) as caught, db.write() as conn:
            conn.execute("INSERT INTO t VALUES ('lost')")
        waited = time.monotonic() - started
    finally:
        holder.communicate(b"")
    assert str(caught.value) == f"the thing store {db.path} {LOCKED}"
    assert isinstance(caught.value, InstanceUnavailableError) and isinstance(caught.value, ThingError)
    assert 0.09 <= waited < 3  # the 100 ms given, not the 10 s default
    with db.write() as conn:  # the holder is gone: the same file works again
        conn.execute("INSERT INTO t VALUES ('kept')")
    assert _count(db) == 1


_HOLD_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.read()
"""


def test_a_full_file_is_a_storage_error_and_rolls_back(db: SqliteFile) -> None:
    with db.session() as conn:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")  # SQLite's own SQLITE_FULL, as on a full disk
    with pytest.raises(StorageError) as caught, db.write() as conn:
        conn.execute("INSERT INTO t VALUES ('first')")
        conn.executemany("INSERT INTO t VALUES (?)", [("x" * 2000,)] * 50)
    assert isinstance(caught.value, ThingError)
    assert str(caught.value).startswith(f"cannot write the thing store {db.path}: the disk is full")
    assert str(caught.value).endswith(f"free space on the disk holding {db.path.parent} and try again")
    assert _count(db) == 0  # all or nothing, and the connection is still usable
    with db.write() as conn:
        conn.execute("INSERT INTO t VALUES ('small')")
    assert _count(db) == 1


def test_a_read_only_database_is_a_storage_error(db: SqliteFile) -> None:
    with db.session() as conn:
        conn.execute("PRAGMA query_only = ON")  # SQLite answers SQLITE_READONLY, as for a read-only file
    with pytest.raises(StorageError, match="it is read-only") as caught, db.write() as conn:
        conn.execute("INSERT INTO t VALUES ('x')")
    assert isinstance(caught.value, ThingError)


@needs_file_modes
def test_a_read_only_file_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    SqliteFile(path, what="thing store", error=ThingError).close()
    path.chmod(0o400)
    with pytest.raises(StorageError, match="read-only"):
        db = SqliteFile(path, what="thing store", error=ThingError)
        with db.write() as conn:
            conn.execute("CREATE TABLE t (x)")


def test_other_sqlite_errors_are_not_disguised(db: SqliteFile) -> None:
    with pytest.raises(sqlite3.OperationalError, match="no such table"), db.write() as conn:
        conn.execute("INSERT INTO missing VALUES (1)")


def test_a_folder_in_the_way_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="a file stands where a folder is needed") as caught:
        SqliteFile(tmp_path / "file" / "t.sqlite3", what="thing store", error=ThingError)
    assert isinstance(caught.value, ThingError)
    assert str(caught.value).startswith(f"cannot write the folder of the thing store {tmp_path / 'file'}: ")


def test_busy_timeout_default_and_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(ENV_BUSY_TIMEOUT, raising=False)
    assert default_busy_timeout_ms() == BUSY_TIMEOUT_MS == 10_000
    for bad in ("soon", "-5", ""):
        monkeypatch.setenv(ENV_BUSY_TIMEOUT, bad)
        assert default_busy_timeout_ms() == BUSY_TIMEOUT_MS
    monkeypatch.setenv(ENV_BUSY_TIMEOUT, "250")
    db = SqliteFile(tmp_path / "t.sqlite3", what="thing store", error=ThingError)
    with db.read() as conn:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 250
    db.close()
    chosen = SqliteFile(tmp_path / "t.sqlite3", what="thing store", error=ThingError, busy_timeout_ms=40)
    with chosen.read() as conn:
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 40
    chosen.close()
