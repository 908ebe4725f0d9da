"""The instance's database: pragmas, transactions that commit or roll back whole, the writer's lock,
and reads on connections of their own beside it."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from app.domain.errors import DatabaseBusyError
from app.instance.local.database import Database, DatabaseError, from_ms, now, to_ms


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(tmp_path / "sub" / "x.sqlite3")
    with database.write() as conn:
        conn.execute("CREATE TABLE t (v INTEGER PRIMARY KEY)")
    yield database
    database.close()


def test_wal_and_foreign_keys_are_on(db: Database) -> None:
    with db.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.path.parent.is_dir()


def test_write_commits_visible_to_another_connection(db: Database) -> None:
    with db.write() as conn:
        conn.execute("INSERT INTO t VALUES (1)")
    other = sqlite3.connect(db.path)
    try:
        assert other.execute("SELECT v FROM t").fetchall() == [(1,)]
    finally:
        other.close()


def test_write_rolls_back_on_error(db: Database) -> None:
    with pytest.raises(RuntimeError, match="boom"), db.write() as conn:
        conn.execute("INSERT INTO t VALUES (2)")
        raise RuntimeError("boom")
    with db.read() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_nested_writes_are_refused(db: Database) -> None:
    with pytest.raises(RuntimeError, match="nested write transaction"), db.write(), db.write():
        pass


def test_threads_take_turns(db: Database) -> None:
    def add(start: int) -> None:
        for v in range(start, start + 50):
            with db.write() as conn:
                conn.execute("INSERT INTO t VALUES (?)", (v,))

    threads = [threading.Thread(target=add, args=(n * 100,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with db.read() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 200


def test_closed_database_says_so(db: Database) -> None:
    db.close()
    with pytest.raises(DatabaseError, match="is closed"), db.read():
        pass


def test_unopenable_file_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    with pytest.raises(DatabaseError, match="cannot open the instance database"):
        Database(folder)


def test_file_size_counts_the_log(db: Database) -> None:
    before = db.file_size()
    with db.write() as conn:
        conn.executemany("INSERT INTO t VALUES (?)", [(v,) for v in range(5000)])
    assert db.file_size() > before > 0


def test_timestamps_round_trip_to_the_millisecond() -> None:
    moment = now()
    assert abs((from_ms(to_ms(moment)) - moment).total_seconds()) < 0.001
    assert from_ms(0).isoformat() == "1970-01-01T00:00:00+00:00"


def test_reads_use_their_own_connection_and_see_only_committed_rows(db: Database) -> None:
    writing, release = threading.Event(), threading.Event()

    def hold_a_write() -> None:
        with db.write() as conn:
            conn.execute("INSERT INTO t VALUES (7)")
            with db.read() as same_thread:  # inside its own write a thread sees its change
                assert same_thread.execute("SELECT count(*) FROM t").fetchone()[0] == 1
            writing.set()
            release.wait(10)

    writer = threading.Thread(target=hold_a_write)
    writer.start()
    try:
        assert writing.wait(10)
        with db.read() as conn:  # does not wait for the writer's lock
            assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    finally:
        release.set()
        writer.join()
    with db.read() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1


def test_a_read_cannot_write(db: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"), db.read() as conn:
        conn.execute("INSERT INTO t VALUES (1)")


def test_a_write_that_waits_too_long_says_the_database_is_busy(tmp_path: Path) -> None:
    db = Database(tmp_path / "busy.sqlite3", busy_timeout_ms=200)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.write():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with (
            pytest.raises(
                DatabaseBusyError, match="the instance database is busy with another write"
            ) as caught,
            db.write(),
        ):
            pass
        assert isinstance(caught.value, DatabaseError)
    finally:
        release.set()
        holder.join()
        db.close()


def test_closing_closes_the_read_connections(db: Database) -> None:
    with db.read() as conn:
        pass
    db.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        conn.execute("SELECT 1")
