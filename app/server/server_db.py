"""The server's own database beside the instance: sign-in tokens and API tokens.

Kept apart from the instance database so the server's bookkeeping (a row per sign-in) never takes the
instance's write lock. Answers of keyed pushes are not here: they must commit with the push itself, so
they live in the instance database (`app.instance.local.idempotency`).
Tokens of both kinds are stored only as their SHA-256: a copy of this file lets no one act as a user.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from app.domain.errors import ConflictError, StationError
from app.domain.records import Page, PageRequest
from app.instance.api_tokens import ApiToken, NewApiToken
from app.system.sqlite_file import SqliteFile, from_ms, now_ms
from app.system.sqlite_paging import fetch_page, search_clause

FILE_NAME = "server.sqlite3"
TOKEN_PREFIX = "qls_"  # noqa: S105 - a marker that makes a leaked token recognisable, not a secret
API_TOKEN_PREFIX = "qla_"  # noqa: S105 - the same for long-lived API tokens
SESSION_LIFETIME = timedelta(hours=12)
LAST_USE_STEP = timedelta(minutes=1)
CHECK_CACHE = timedelta(seconds=5)
"""How long a checked token is trusted from memory. A revocation through this server is at once; one
made by another process on the same file (`ql-station token revoke` beside a running serve) takes
effect within this time."""
_MAX_CACHED = 10_000
"""A token's last use is written at most this often: a busy script must not write on every request."""

_V1 = """
CREATE TABLE sessions (
    token_sha256 BLOB PRIMARY KEY,
    username TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX sessions_by_expiry ON sessions (expires_ms);

CREATE TABLE idempotency (
    username TEXT NOT NULL,
    method TEXT NOT NULL,
    key TEXT NOT NULL,
    request_sha256 BLOB NOT NULL,
    response TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (username, method, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_age ON idempotency (created_ms);
"""
_V2 = """
DROP TABLE idempotency;

CREATE TABLE api_tokens (
    name TEXT PRIMARY KEY COLLATE NOCASE,
    token_sha256 BLOB NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    last_used_ms INTEGER
);
"""
"""Version 2: answers of keyed pushes moved into the instance database, into the push's own transaction
(a crash between two files' commits could have let a retry push twice); API tokens for automation."""
MIGRATIONS = (_V1, _V2)


class ServerDatabaseError(StationError):
    """The server's token database cannot be opened or used."""


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class ServerDatabase:
    def __init__(self, path: Path, lifetime: timedelta = SESSION_LIFETIME) -> None:
        self._file = SqliteFile(
            path, what="server database", error=ServerDatabaseError, read_connections=True
        )
        self._lifetime_ms = int(lifetime.total_seconds() * 1000)
        self._last_use_step_ms = int(LAST_USE_STEP.total_seconds() * 1000)
        self._checked: dict[bytes, tuple[str, int]] = {}  # token digest -> (user, trusted until)
        try:
            self._file.migrate(MIGRATIONS, "update the station or serve another data folder")
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        self._file.close()

    # --- sessions --------------------------------------------------------------------------------
    def issue_token(self, username: str) -> str:
        """A new random token for `username`; only its hash is kept."""
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = now_ms()
        with self._file.write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_ms <= ?", (now,))
            conn.execute(
                "INSERT INTO sessions (token_sha256, username, created_ms, expires_ms) VALUES (?, ?, ?, ?)",
                (token_digest(token), username, now, now + self._lifetime_ms),
            )
        return token

    def user_of(self, token: str) -> str | None:
        """The user a live sign-in or API token belongs to; None for an unknown, expired or revoked one."""
        digest, now = token_digest(token), now_ms()
        with self._file.read() as conn:
            row = conn.execute(
                "SELECT username, expires_ms FROM sessions WHERE token_sha256 = ? AND expires_ms > ?",
                (digest, now),
            ).fetchone()
        if row is not None:
            self._remember(digest, str(row[0]), int(row[1]))
            return str(row[0])
        return self._api_token_user(digest, now)

    def cached_user_of(self, token: str) -> str | None:
        """`user_of` from memory when this token was checked in the last `CHECK_CACHE` seconds, else
        None (ask `user_of`). Lets the server's event loop answer who is asking without a thread or
        a query; revocations made through this object forget the token at once."""
        digest = token_digest(token)
        known = self._checked.get(digest)
        if known is None:
            return None
        user, until_ms = known
        if now_ms() >= until_ms:
            self._checked.pop(digest, None)
            return None
        return user

    def _remember(self, digest: bytes, user: str, expires_ms: int) -> None:
        if len(self._checked) >= _MAX_CACHED:
            self._checked.clear()
        self._checked[digest] = (user, min(expires_ms, now_ms() + int(CHECK_CACHE.total_seconds() * 1000)))

    def revoke(self, token: str) -> bool:
        self._checked.pop(token_digest(token), None)
        with self._file.write() as conn:
            cursor = conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (token_digest(token),))
            return cursor.rowcount > 0

    # --- API tokens ------------------------------------------------------------------------------
    def create_api_token(self, name: str, owner: str, days: int) -> NewApiToken:
        token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = now_ms()
        expires = now + days * 86_400_000
        with self._file.write() as conn:
            if conn.execute("SELECT 1 FROM api_tokens WHERE name = ?", (name,)).fetchone() is not None:
                raise ConflictError(
                    f"an API token named {name!r} already exists; revoke it or choose another name"
                )
            conn.execute(
                "INSERT INTO api_tokens (name, token_sha256, owner, created_ms, expires_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, token_digest(token), owner, now, expires),
            )
        return NewApiToken(token, ApiToken(name, owner, from_ms(now), from_ms(expires)))

    def list_api_tokens(self, page: PageRequest) -> Page[ApiToken]:
        where, params = search_clause(("name", "owner"), page.search)
        with self._file.read() as conn:
            return fetch_page(
                conn,
                select=_API_TOKEN_COLUMNS,
                table="api_tokens",
                where=where,
                params=params,
                order_by="name COLLATE NOCASE",
                page=page,
                row_to_item=_api_token,
            )

    def revoke_api_token(self, name: str) -> ApiToken | None:
        """The token's row, gone; None if no token has that name."""
        self._checked.clear()  # the token itself is not known here, only its name
        with self._file.write() as conn:
            sql = f"SELECT {_API_TOKEN_COLUMNS} FROM api_tokens WHERE name = ?"  # noqa: S608
            row = conn.execute(sql, (name,)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM api_tokens WHERE name = ?", (name,))
        return _api_token(row)

    def _api_token_user(self, digest: bytes, now: int) -> str | None:
        with self._file.read() as conn:
            row = conn.execute(
                "SELECT owner, last_used_ms, expires_ms FROM api_tokens "
                "WHERE token_sha256 = ? AND expires_ms > ?",
                (digest, now),
            ).fetchone()
        if row is None:
            return None
        self._remember(digest, str(row[0]), int(row[2]))
        if row[1] is None or now - row[1] >= self._last_use_step_ms:
            with self._file.write() as conn:
                conn.execute("UPDATE api_tokens SET last_used_ms = ? WHERE token_sha256 = ?", (now, digest))
        return str(row[0])


_API_TOKEN_COLUMNS = "name, owner, created_ms, expires_ms, last_used_ms"  # noqa: S105 - column names


def _api_token(row: tuple[Any, ...]) -> ApiToken:
    return ApiToken(
        name=row[0],
        owner=row[1],
        created_at=from_ms(row[2]),
        expires_at=from_ms(row[3]),
        last_used_at=None if row[4] is None else from_ms(row[4]),
    )
