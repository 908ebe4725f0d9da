"""The activity log: who changed what, when. Written inside the transaction of the change it records.

Callers pass only what a person may read: names, counts, kinds. Passwords, passphrases and private keys
are never handed to `record` (the tests scan every row for them).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from app.domain.records import ActivityEntry, Page, PageRequest
from app.instance.local.database import from_ms, now_ms
from app.system.sqlite_paging import fetch_page, search_clause

_COLUMNS = "id, at_ms, actor, action, target, details"
_SEARCHED = ("actor", "action", "target", "details")


def record(conn: sqlite3.Connection, actor: str, action: str, target: str, details: str = "") -> None:
    conn.execute(
        "INSERT INTO activity (at_ms, actor, action, target, details) VALUES (?, ?, ?, ?, ?)",
        (now_ms(), actor, action, target, details),
    )


def list_activity(conn: sqlite3.Connection, page: PageRequest) -> Page[ActivityEntry]:
    """Newest first; `page.search` is a case-insensitive substring of actor, action, target or details."""
    where, params = search_clause(_SEARCHED, page.search)
    return fetch_page(
        conn,
        select=_COLUMNS,
        table="activity",
        where=where,
        params=params,
        order_by="id DESC",
        page=page,
        row_to_item=_entry,
    )


def latest(conn: sqlite3.Connection, count: int) -> tuple[ActivityEntry, ...]:
    rows = conn.execute(f"SELECT {_COLUMNS} FROM activity ORDER BY id DESC LIMIT ?", (count,))  # noqa: S608
    return tuple(_entry(row) for row in rows)


def _entry(row: tuple[Any, ...]) -> ActivityEntry:
    return ActivityEntry(
        id=row[0], at=from_ms(row[1]), actor=row[2], action=row[3], target=row[4], details=row[5]
    )
