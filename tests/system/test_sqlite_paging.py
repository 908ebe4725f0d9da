"""Search text goes into LIKE with its wildcards escaped, so people find what they typed."""

from __future__ import annotations

import sqlite3

import pytest

from app.domain.records import PageRequest
from app.system.sqlite_paging import fetch_page, like_pattern, search_clause


@pytest.mark.parametrize(
    ("search", "pattern"),
    [("abc", "%abc%"), ("50%", "%50\\%%"), ("a_b", "%a\\_b%"), ("back\\slash", "%back\\\\slash%")],
)
def test_like_pattern_escapes_wildcards(search: str, pattern: str) -> None:
    assert like_pattern(search) == pattern


def test_search_clause_matches_literally_in_sqlite() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a TEXT, b TEXT)")
    conn.executemany(
        "INSERT INTO t VALUES (?, ?)", [("50% off", ""), ("500 off", ""), ("x", "a\\b"), ("Y_Z", "")]
    )
    for search, expected in [
        ("50%", ["50% off"]),
        ("\\", ["x"]),
        ("y_z", ["Y_Z"]),
        ("", ["50% off", "500 off", "Y_Z", "x"]),
    ]:
        where, params = search_clause(("a", "b"), search)
        rows = conn.execute(f"SELECT a FROM t WHERE {where} ORDER BY a", params).fetchall()  # noqa: S608
        assert [r[0] for r in rows] == expected


def test_one_pass_pages_count_and_order_as_two_statements_do() -> None:
    """The one-pass page (for full-text searches) gives the same rows, order and total, also past the end."""
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at INTEGER, word TEXT)")
    conn.executemany(
        "INSERT INTO t (at, word) VALUES (?, ?)",
        [((n * 7) % 10, "even" if n % 2 else "odd") for n in range(25)],
    )
    for where, params in (("word = ?", ["even"]), ("1", []), ("word = ?", ["none"])):
        for offset in (0, 5, 10, 12, 40):
            pages = [
                fetch_page(
                    conn,
                    select="id, at",
                    table="t",
                    where=where,
                    params=params,
                    order_by="at DESC, id DESC",
                    page=PageRequest(limit=5, offset=offset),
                    row_to_item=tuple,
                    one_pass=one_pass,
                )
                for one_pass in (False, True)
            ]
            assert pages[0] == pages[1], (where, offset)
            assert pages[0].total == {"even": 12, "none": 0}.get(params[0] if params else "", 25)
