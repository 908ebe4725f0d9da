"""Searching 100,000 records by any fragment a person types: a trigram index beside the records table.

A person searches by a piece of a MAC, a port, a DeviceID or a word of the reason. A LIKE over ten
columns reads every row twice (the count and the page): seconds with a month of a busy line. SQLite's
FTS5 `trigram` tokenizer indexes every three-character piece of a row's searchable text, so a
substring of three characters or more is an index lookup, whatever the case. A trigger keeps the index
with the table (records are only ever inserted), so every writer (the supervisor, the CLI, a test that
writes SQL) feeds it.

The index is not part of the versioned schema: an SQLite built without FTS5 (rare, but possible on a
Linux distribution's Python) must still open the records. `ensure_index` creates it when it can and
says whether it exists; without it, or for one- and two-character searches, search falls back to LIKE.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from app.system.sqlite_paging import search_clause

SEARCHED = (
    "port", "device_id", "batch", "task", "chip", "mac", "outcome", "operator", "error", "step", "warning",
)  # fmt: skip
INDEX = "records_text"
MIN_INDEXED = 3
_TEXT = " || char(10) || ".join(f"new.{column}" for column in SEARCHED)
_CREATE = f"""
    CREATE VIRTUAL TABLE {INDEX} USING fts5(text, tokenize = 'trigram');
    CREATE TRIGGER {INDEX}_insert AFTER INSERT ON records BEGIN
        INSERT INTO {INDEX} (rowid, text) VALUES (new.id, {_TEXT});
    END;
    CREATE TRIGGER {INDEX}_delete AFTER DELETE ON records BEGIN
        DELETE FROM {INDEX} WHERE rowid = old.id;
    END;
    INSERT INTO {INDEX} (rowid, text) SELECT id, {_TEXT.replace("new.", "")} FROM records;
"""  # noqa: S608


def has_index(conn: sqlite3.Connection) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (INDEX,))
    return found.fetchone() is not None


def ensure_index(conn: sqlite3.Connection) -> bool:
    """Create the search index (and fill it from the records) if it is missing; False when this
    SQLite has no FTS5 trigram tokenizer. Call inside a write transaction."""
    if has_index(conn):
        return True
    try:
        conn.execute("SAVEPOINT search_index")
        for statement in _statements(_CREATE):
            conn.execute(statement)
        conn.execute("RELEASE search_index")
    except sqlite3.OperationalError:  # no FTS5, or no trigram tokenizer (SQLite before 3.34)
        conn.execute("ROLLBACK TO search_index")
        conn.execute("RELEASE search_index")
        return False
    return True


def _statements(script: str) -> list[str]:
    """The script's statements; a trigger's body keeps its own semicolons."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        if text.endswith(";") and (not text.upper().startswith("CREATE TRIGGER") or text.endswith("END;")):
            statements.append(text)
            current = []
    return statements


def search_where(search: str, indexed: bool) -> tuple[str, list[Any]]:
    """The WHERE fragment for `search` ('' matches all): the index when it can answer, else LIKE."""
    search = search.strip()
    if not search:
        return "1", []
    if indexed and len(search) >= MIN_INDEXED:
        phrase = '"' + search.replace('"', '""') + '"'  # one phrase: no FTS5 query syntax in what was typed
        return f"id IN (SELECT rowid FROM {INDEX} WHERE {INDEX} MATCH ?)", [phrase]  # noqa: S608
    return search_clause(SEARCHED, search)
