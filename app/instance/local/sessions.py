"""Sign-ins to the built-in instance: a password checked once, then a session token in the OS keyring.

Why a token and not just "alice is signed in" in the keyring: a token can be revoked (`logout`) and it
expires, and only its SHA-256 is stored here, so this file names who is signed in but lets no one act
as them. The session is a record of who is operating the station, not a wall against the computer
account that owns the data folder: that account can open the SQLite file itself. What it does stop is
anyone at the station acting as another user by naming them: the acting user is the one who gave the
password.

Kept in `sessions.sqlite3` beside the instance database, so a sign-in never takes the instance's write
lock and the instance's schema stays the served one's.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from pathlib import Path

from app.domain.errors import StationError
from app.system.sqlite_file import SqliteFile, now_ms

FILE_NAME = "sessions.sqlite3"
TOKEN_PREFIX = "qll_"  # noqa: S105 - a marker that makes a leaked local token recognisable, not a secret
LOCAL_SESSION_LIFETIME = timedelta(hours=12)
"""One shift: a station left signed in overnight asks again in the morning."""

_V1 = """
CREATE TABLE sessions (
    token_sha256 BLOB PRIMARY KEY,
    username TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
) WITHOUT ROWID;
"""


class SessionStoreError(StationError):
    """The built-in instance's sign-in file cannot be opened or used."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


class LocalSessions:
    """Open beside an instance database: `LocalSessions.beside(db_path)`."""

    def __init__(self, path: Path, lifetime: timedelta = LOCAL_SESSION_LIFETIME) -> None:
        self._file = SqliteFile(path, what="sign-in file", error=SessionStoreError)
        self._lifetime_ms = int(lifetime.total_seconds() * 1000)
        try:
            self._file.migrate((_V1,), "update the station or use another data folder")
        except BaseException:
            self._file.close()
            raise

    @classmethod
    def beside(cls, instance_db: Path, lifetime: timedelta = LOCAL_SESSION_LIFETIME) -> LocalSessions:
        return cls(instance_db.parent / FILE_NAME, lifetime)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> LocalSessions:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def issue(self, username: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = now_ms()
        with self._file.write() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_ms <= ?", (now,))
            conn.execute(
                "INSERT INTO sessions (token_sha256, username, created_ms, expires_ms) VALUES (?, ?, ?, ?)",
                (_digest(token), username, now, now + self._lifetime_ms),
            )
        return token

    def user_of(self, token: str) -> str | None:
        """Who a live token belongs to; None for an unknown, expired or signed-out one."""
        with self._file.read() as conn:
            row = conn.execute(
                "SELECT username FROM sessions WHERE token_sha256 = ? AND expires_ms > ?",
                (_digest(token), now_ms()),
            ).fetchone()
        return None if row is None else str(row[0])

    def revoke(self, token: str) -> bool:
        with self._file.write() as conn:
            return conn.execute("DELETE FROM sessions WHERE token_sha256 = ?", (_digest(token),)).rowcount > 0

    def revoke_user(self, username: str) -> int:
        """End every session of a user (deleted, or their password changed)."""
        with self._file.write() as conn:
            return conn.execute("DELETE FROM sessions WHERE username = ?", (username,)).rowcount
