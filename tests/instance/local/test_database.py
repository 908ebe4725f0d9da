"""The instance's one connection: pragmas, transactions that commit or roll back whole, the lock."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

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
