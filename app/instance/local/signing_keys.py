"""Signing keys held by the instance: public part and Secure Boot V2 digest in clear, private part only
as the protector's ciphertext. The private part is read back only by task signing, never listed.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from app.domain.errors import ConflictError, NotFoundError
from app.domain.kinds import KeyType
from app.domain.names import validate_name
from app.domain.records import Page, PageRequest, SigningKey
from app.instance.local.database import from_ms, now_ms
from app.system.sqlite_paging import fetch_page, search_clause

_COLUMNS = "name, key_type, public_key_pem, key_digest_hex, created_ms"


def protector_label(name: str) -> str:
    """Binds each ciphertext to its key name, so one key's blob cannot be swapped in for another's."""
    return f"signing-key:{name}"


def check_new_name(conn: sqlite3.Connection, name: str) -> str:
    key_name = validate_name(name, "signing key")
    if conn.execute("SELECT 1 FROM signing_keys WHERE name = ?", (key_name,)).fetchone() is not None:
        raise ConflictError(f"a signing key named {key_name!r} already exists")
    return key_name


def insert(
    conn: sqlite3.Connection,
    name: str,
    key_type: KeyType,
    public_key_pem: str,
    key_digest_hex: str,
    encrypted_private_key: bytes,
) -> SigningKey:
    key_name = check_new_name(conn, name)
    created = now_ms()
    conn.execute(
        "INSERT INTO signing_keys (name, key_type, public_key_pem, key_digest_hex, encrypted_private_key, "
        "created_ms) VALUES (?, ?, ?, ?, ?, ?)",
        (key_name, key_type.value, public_key_pem, key_digest_hex, encrypted_private_key, created),
    )
    return SigningKey(key_name, key_type, public_key_pem, key_digest_hex, from_ms(created))


def get(conn: sqlite3.Connection, name: str) -> SigningKey:
    row = conn.execute(f"SELECT {_COLUMNS} FROM signing_keys WHERE name = ?", (name.strip(),)).fetchone()  # noqa: S608
    if row is None:
        raise NotFoundError(f"there is no signing key named {name.strip()!r}")
    return _key(row)


def id_of(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT id FROM signing_keys WHERE name = ?", (name.strip(),)).fetchone()
    if row is None:
        raise NotFoundError(f"there is no signing key named {name.strip()!r}")
    return int(row[0])


def encrypted_private_key(conn: sqlite3.Connection, name: str) -> bytes:
    row = conn.execute("SELECT encrypted_private_key FROM signing_keys WHERE name = ?", (name,)).fetchone()
    if row is None:
        raise NotFoundError(f"there is no signing key named {name!r}")
    return bytes(row[0])


def list_keys(conn: sqlite3.Connection, page: PageRequest) -> Page[SigningKey]:
    where, params = search_clause(("name", "key_type"), page.search)
    return fetch_page(
        conn,
        select=_COLUMNS,
        table="signing_keys",
        where=where,
        params=params,
        order_by="name",
        page=page,
        row_to_item=_key,
    )


def count(conn: sqlite3.Connection) -> int:
    value: int = conn.execute("SELECT count(*) FROM signing_keys").fetchone()[0]
    return value


def _key(row: tuple[Any, ...]) -> SigningKey:
    return SigningKey(
        name=row[0],
        key_type=KeyType(row[1]),
        public_key_pem=row[2],
        key_digest_hex=row[3],
        created_at=from_ms(row[4]),
    )
