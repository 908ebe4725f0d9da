"""Exactly-once changes: a keyed request's answer is remembered in the transaction of the change itself.

The offline outbox and the remote client retry a push whose answer they never saw. If the key were
remembered anywhere but in the same transaction as the devices (another file, a later statement after
the commit), a crash between the two would let the retry add or move the devices a second time. Here
the change, its activity entry and the remembered answer commit together or not at all, so after any
crash a retry either finds the answer or finds nothing changed.

A key is scoped to the acting user and the method; the same key with a different request body is a
conflict (the caller reused a key by mistake), never a silent replay of the other request's answer.
Answers are kept for `LIFETIME`: long enough for any outbox to come back online.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, TypeVar

from app.domain.errors import ConflictError, ValidationError
from app.instance.local.database import now_ms
from app.instance.wire import from_json, to_json

T = TypeVar("T")

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class KeyedRequest:
    """A caller's idempotency key and the SHA-256 of the request it names."""

    key: str
    request_sha256: bytes

    def __post_init__(self) -> None:
        if not 1 <= len(self.key) <= MAX_KEY_LENGTH or not self.key.isascii() or not self.key.isprintable():
            raise ValidationError(f"an {HEADER} is 1 to {MAX_KEY_LENGTH} printable ASCII characters")


@dataclass(frozen=True)
class Keyed(Generic[T]):
    """The answer of a keyed change; `replayed` when it is the remembered answer of an earlier call."""

    result: T
    replayed: bool = False


def replay(
    conn: sqlite3.Connection, actor: str, method: str, request: KeyedRequest | None, result_type: type[T]
) -> Keyed[T] | None:
    """The remembered answer for this key, or None when the key is new (or there is none)."""
    if request is None:
        return None
    row = conn.execute(
        "SELECT request_sha256, response FROM idempotency WHERE actor = ? AND method = ? AND key = ?",
        (actor, method, request.key),
    ).fetchone()
    if row is None:
        return None
    if bytes(row[0]) != request.request_sha256:
        raise ConflictError(
            f"the {HEADER} {request.key!r} was already used for a different request; "
            "use a new key for a new request"
        )
    return Keyed(from_json(result_type, json.loads(row[1]), "remembered answer"), replayed=True)


def remember(
    conn: sqlite3.Connection, actor: str, method: str, request: KeyedRequest | None, result: object
) -> None:
    """Keep the answer under the key, in the caller's transaction; forget answers past their lifetime."""
    if request is None:
        return
    now = now_ms()
    conn.execute(
        "DELETE FROM idempotency WHERE created_ms < ?", (now - int(LIFETIME.total_seconds() * 1000),)
    )
    conn.execute(
        "INSERT INTO idempotency (actor, method, key, request_sha256, response, created_ms) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (actor, method, request.key, request.request_sha256, json.dumps(to_json(result)), now),
    )
