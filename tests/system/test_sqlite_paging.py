"""Search text goes into LIKE with its wildcards escaped, so people find what they typed."""

from __future__ import annotations

import sqlite3

import pytest

from app.system.sqlite_paging import like_pattern, search_clause


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
