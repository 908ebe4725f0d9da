"""The server's own database beside the instance: sign-in tokens.

Kept apart from the instance database so the server's bookkeeping (a row per sign-in) never takes the
instance's write lock. Answers of keyed pushes are not here: they must commit with the push itself, so
they live in the instance database (`app.instance.local.idempotency`).
Tokens are stored only as their SHA-256: a copy of this file lets no one act as a signed-in user.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path

from app.domain.errors import StationError
from app.system.sqlite_file import SqliteFile, now_ms

FILE_NAME = "server.sqlite3"
TOKEN_PREFIX = "qls_"  # noqa: S105 - a marker that makes a leaked token recognisable, not a secret
SESSION_LIFETIME = timedelta(hours=12)

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
"""
"""Version 2: answers of keyed pushes moved into the instance database, into the push's own transaction
(a crash between two files' commits could have let a retry push twice)."""
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
        """The user a live token belongs to; None for an unknown, expired or revoked one."""
        with self._file.read() as conn:
            row = conn.execute(
                "SELECT username FROM sessions WHERE token_sha256 = ? AND expires_ms > ?",
                (token_digest(token), now_ms()),
            ).fetchone()
        return None if row is None else str(row[0])

    def revoke(self, token: str) -> bool:
        with self._file.write() as conn:
            cursor = conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (token_digest(token),))
            return cursor.rowcount > 0
