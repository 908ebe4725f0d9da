"""Turning a `PageRequest` into SQL: a safe LIKE pattern for `search`, and the page itself.

Shared by every station database. Small tables (batches, keys, images, tasks, users, activity,
provisioning records) page with LIMIT/OFFSET; the instance's devices never do (see its devices.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from app.domain.records import Page, PageRequest

T = TypeVar("T")

LIKE_ESCAPE = "\\"


def like_pattern(search: str) -> str:
    """`%search%` with LIKE's wildcards escaped, so a search for '50%' finds the text '50%'."""
    escaped = search.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_clause(columns: Sequence[str], search: str) -> tuple[str, list[Any]]:
    """A WHERE fragment matching `search` as a case-insensitive substring of any column ('' = all)."""
    if not search:
        return "1", []
    pattern = like_pattern(search)
    clause = " OR ".join(f"{column} LIKE ? ESCAPE '{LIKE_ESCAPE}'" for column in columns)
    return f"({clause})", [pattern] * len(columns)


def fetch_page(
    conn: sqlite3.Connection,
    *,
    select: str,
    table: str,
    where: str,
    params: Sequence[Any],
    order_by: str,
    page: PageRequest,
    row_to_item: Callable[[Any], T],
) -> Page[T]:
    """Count the matching rows and return one page of them in `order_by` order."""
    total: int = conn.execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]  # noqa: S608
    rows = conn.execute(
        f"SELECT {select} FROM {table} WHERE {where} ORDER BY {order_by} LIMIT ? OFFSET ?",  # noqa: S608
        [*params, page.limit, page.offset],
    ).fetchall()
    return Page(items=tuple(row_to_item(row) for row in rows), total=total, offset=page.offset)
