from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.errors import StationError
from app.system.sqlite_file import SqliteFile, split_statements, user_version


class ThingError(StationError):
    pass


STEPS = ("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('a;b');", "ALTER TABLE t ADD COLUMN y INTEGER;")


def open_file(path: Path) -> SqliteFile:
    return SqliteFile(path, what="thing store", error=ThingError)


def test_wal_foreign_keys_and_migrations(tmp_path: Path) -> None:
    db = open_file(tmp_path / "a" / "t.sqlite3")
    assert db.migrate(STEPS, advice="update") == 0
    with db.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("SELECT x, y FROM t").fetchall() == [("a;b", None)]
        assert user_version(conn) == 2
    assert db.migrate(STEPS, advice="update") == 2  # nothing left to do
    db.close()


def test_a_failed_write_leaves_nothing(tmp_path: Path) -> None:
    db = open_file(tmp_path / "t.sqlite3")
    db.migrate(STEPS, advice="update")
    with pytest.raises(RuntimeError), db.write() as conn:
        conn.execute("INSERT INTO t VALUES ('b', 1)")
        raise RuntimeError("half-way")
    with db.read() as conn:
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 1
    db.close()


def test_newer_file_and_closed_file_are_clear_errors(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    db = open_file(path)
    db.migrate(STEPS, advice="update")
    db.close()
    with pytest.raises(ThingError, match=f"the thing store {path} is closed"):
        db.migrate(STEPS, advice="update")
    older = open_file(path)
    newer = r"schema version 2, newer than this station understands \(1\).*get v2"
    with pytest.raises(ThingError, match=newer):
        older.migrate(STEPS[:1], advice="get v2")
    older.close()


def test_unopenable_path(tmp_path: Path) -> None:
    folder = tmp_path / "dir.sqlite3"
    folder.mkdir()
    with pytest.raises(ThingError, match="cannot open the thing store"):
        open_file(folder)


def test_statements_split_only_where_sqlite_says() -> None:
    assert split_statements("CREATE TABLE a (x); INSERT INTO a VALUES ('x;y');  ;") == [
        "CREATE TABLE a (x);",
        "INSERT INTO a VALUES ('x;y');",
    ]
