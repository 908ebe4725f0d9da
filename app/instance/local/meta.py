"""Single values of the instance (its id, name, key-protection metadata, IEF endpoint) in one table.

Only public values live here: the protection metadata is a salt and a verifier, never the key itself.
"""

from __future__ import annotations

import sqlite3

INSTANCE_ID = "instance_id"
INSTANCE_NAME = "instance_name"
CREATED_MS = "created_ms"
PROTECTION = "key_protection"
ENDPOINT = "ief_endpoint"
PORT = "ief_port"


def get(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def require(conn: sqlite3.Connection, key: str) -> str:
    value = get(conn, key)
    if value is None:
        raise LookupError(f"instance metadata {key!r} is missing; the database was not initialised")
    return value


def put(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
