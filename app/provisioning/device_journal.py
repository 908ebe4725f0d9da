"""The DeviceID journal: every DeviceID a board gave, written down before the board is told "OK".

A DeviceID is the one thing provisioning produces, so it gets the strongest promise the station can
make: the journal entry is committed (and synced to disk) while the board is still waiting for its
acknowledgement, and from then on it only moves forward:

    journaled -> pushed | queued | refused (with the reason)
    queued    -> pushed | refused

`journaled` means "received, the instance has not answered yet". An entry left there by a station that
was killed is found at the next start (`recover`) and queued. `queued` entries are the outbox: what the
station owes the instance, each with an idempotency key made when it was journaled and sent with every
try. Nothing deletes an entry: a settled one is the station's proof of what it did with the ID.

The journal lives in the records file (app/provisioning/records.py owns its schema), so a record and
the journal entry of its board are changed in one transaction when a push settles.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from app.domain.device_id import DeviceID
from app.domain.errors import ConflictError, NotFoundError, StationError, ValidationError
from app.system.sqlite_file import SqliteFile, from_ms, to_ms

OWED_STATES = ("journaled", "queued")
MAX_REASON_CHARS = 500


class AttentionAction(Enum):
    """What a person can decide for a refused push (`DeviceJournal.act`)."""

    MOVE = "moved"  # push it again to its batch, moving the device out of the batch it is in
    REBATCH = "rebatched"  # push it to another batch
    DISCARD = "discarded"  # give it up, with a reason


class JournalState(Enum):
    JOURNALED = "journaled"  # received and saved; the instance has not answered yet
    QUEUED = "queued"  # the instance could not be reached: in the outbox
    PUSHED = "pushed"  # in its batch
    REFUSED = "refused"  # the instance said no; `reason` says why


@dataclass(frozen=True)
class JournalEntry:
    id: int
    device_id: DeviceID
    batch: str
    move: bool  # re-enrolment: the device may be moved here from another batch
    received_at: datetime
    state: JournalState
    idempotency_key: str
    port: str = ""
    mac: str = ""
    task: str = ""
    reason: str = ""
    attempts: int = 0

    @property
    def owed(self) -> bool:
        """Still to be taken to the instance."""
        return self.state.value in OWED_STATES


_COLUMNS = (
    "id, device_id, batch, move, received_ms, state, idempotency_key, port, mac, task, reason, attempts"
)


class DeviceJournal:
    """The journal table of one records file. `error` is the records file's error type."""

    def __init__(self, db: SqliteFile, error: type[StationError]) -> None:
        self._db = db
        self._error = error

    def receive(
        self, device_id: DeviceID, *, batch: str, move: bool, port: str = "", mac: str = "", task: str = ""
    ) -> JournalEntry:
        """Write a received DeviceID down for good. An entry still owed for the same device, batch and
        kind of push is that entry (a board provisioned twice while offline is pushed once)."""
        now = to_ms(datetime.now(UTC))
        with self._writing(f"save DeviceID {device_id}") as conn:
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM journal WHERE device_id = ? AND batch = ? AND move = ? "  # noqa: S608
                "AND state IN ('journaled', 'queued') ORDER BY id LIMIT 1",
                (device_id, batch, int(move)),
            ).fetchone()
            if row is not None:
                return _entry(row)
            cursor = conn.execute(
                "INSERT INTO journal (device_id, batch, move, received_ms, state, idempotency_key, port, "
                "mac, task, updated_ms) VALUES (?, ?, ?, ?, 'journaled', ?, ?, ?, ?, ?)",
                (device_id, batch, int(move), now, secrets.token_hex(16), port, mac, task, now),
            )
            entry_id = int(cursor.lastrowid or 0)
            row = conn.execute(f"SELECT {_COLUMNS} FROM journal WHERE id = ?", (entry_id,)).fetchone()  # noqa: S608
        return _entry(row)

    def settle(self, entry_id: int, state: JournalState, reason: str = "") -> None:
        """The push was answered (pushed, refused) or put off (queued): move the entry and its records."""
        if state is JournalState.JOURNALED:
            raise ValueError("an entry never moves back to journaled")
        reason = _bounded(reason)
        with self._writing("record what happened to a DeviceID") as conn:
            conn.execute(
                "UPDATE journal SET state = ?, reason = ?, updated_ms = ?, "
                "attempts = attempts + CASE WHEN ? = 'queued' THEN 1 ELSE 0 END "
                "WHERE id = ? AND state IN ('journaled', 'queued')",
                (state.value, reason, to_ms(datetime.now(UTC)), state.value, entry_id),
            )
            conn.execute(
                "UPDATE records SET push_state = ?, error = CASE WHEN ? = 'refused' THEN ? ELSE error END "
                "WHERE journal_id = ?",
                (state.value, state.value, reason, entry_id),
            )

    def settle_many(self, entry_ids: list[int], state: JournalState) -> None:
        """Many pushes answered at once (an outbox group the instance took whole): one transaction."""
        if state is JournalState.JOURNALED:
            raise ValueError("an entry never moves back to journaled")
        now = to_ms(datetime.now(UTC))
        with self._writing(f"record what happened to {len(entry_ids)} DeviceIDs") as conn:
            conn.executemany(
                "UPDATE journal SET state = ?, reason = '', updated_ms = ? WHERE id = ? "
                "AND state IN ('journaled', 'queued')",
                [(state.value, now, entry_id) for entry_id in entry_ids],
            )
            conn.executemany(
                "UPDATE records SET push_state = ? WHERE journal_id = ?",
                [(state.value, entry_id) for entry_id in entry_ids],
            )

    def needs_attention(self, limit: int = 1000) -> list[JournalEntry]:
        """Refused pushes nobody has acted on yet: each needs a person (move, another batch, discard)."""
        return self._select("state = 'refused' AND id NOT IN (SELECT journal_id FROM journal_actions)", limit)

    def count_needing_attention(self) -> int:
        with self._db.read() as conn:
            sql = (
                "SELECT count(*) FROM journal WHERE state = 'refused' "
                "AND id NOT IN (SELECT journal_id FROM journal_actions)"
            )
            return int(conn.execute(sql).fetchone()[0])

    def act(
        self, entry_id: int, action: AttentionAction, *, batch: str = "", reason: str = "", operator: str = ""
    ) -> JournalEntry | None:
        """A person's decision on a refused push; returns the new entry it queued (None for discard).

        `MOVE` pushes the ID again to its batch as a move (the device leaves the batch it is in);
        `REBATCH` pushes it to `batch` instead, also as a move; `DISCARD` settles it for good, with the
        person's reason. The refused entry stays, linked to what replaced it: the journal keeps history.
        """
        reason = _bounded(reason.strip())
        if action is AttentionAction.DISCARD and not reason:
            raise ValidationError("say why the DeviceID is discarded: the reason goes to the activity log")
        if action is AttentionAction.REBATCH and not batch.strip():
            raise ValidationError("name the batch the DeviceID should go to")
        now = to_ms(datetime.now(UTC))
        with self._writing("record a decision on a refused DeviceID") as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM journal WHERE id = ?", (entry_id,)).fetchone()  # noqa: S608
            if row is None:
                raise NotFoundError(f"no outbox entry {entry_id}")
            entry = _entry(row)
            done = conn.execute(
                "SELECT action FROM journal_actions WHERE journal_id = ?", (entry_id,)
            ).fetchone()
            if entry.state is not JournalState.REFUSED or done is not None:
                what = f"already {done[0]}" if done is not None else entry.state.value
                raise ConflictError(f"outbox entry {entry_id} does not need attention: it is {what}")
            successor: JournalEntry | None = None
            if action is not AttentionAction.DISCARD:
                target = entry.batch if action is AttentionAction.MOVE else batch.strip()
                cursor = conn.execute(
                    "INSERT INTO journal (device_id, batch, move, received_ms, state, idempotency_key, port, "
                    "mac, task, reason, updated_ms) VALUES (?, ?, 1, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                    (
                        entry.device_id,
                        target,
                        to_ms(entry.received_at),
                        secrets.token_hex(16),
                        entry.port,
                        entry.mac,
                        entry.task,
                        f"{action.value} by {operator or 'a person'}",
                        now,
                    ),
                )
                new_row = conn.execute(
                    f"SELECT {_COLUMNS} FROM journal WHERE id = ?",  # noqa: S608
                    (int(cursor.lastrowid or 0),),
                ).fetchone()
                successor = _entry(new_row)
            conn.execute(
                "INSERT INTO journal_actions (journal_id, action, reason, successor_id, operator, at_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (entry_id, action.value, reason, successor.id if successor else None, operator, now),
            )
            if successor is not None:
                conn.execute(
                    "UPDATE records SET journal_id = ?, push_state = 'queued' WHERE journal_id = ?",
                    (successor.id, entry_id),
                )
        return successor

    def get(self, entry_id: int) -> JournalEntry | None:
        with self._db.read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM journal WHERE id = ?", (entry_id,)).fetchone()  # noqa: S608
        return _entry(row) if row is not None else None

    def owed(self, limit: int = 1000) -> list[JournalEntry]:
        """What the station still owes the instance, oldest first (so each device's pushes keep order)."""
        return self._select("state IN ('journaled', 'queued')", limit)

    def outbox(self, limit: int = 1000) -> list[JournalEntry]:
        return self._select("state = 'queued'", limit)

    def entries(self, limit: int = 1000) -> list[JournalEntry]:
        """Every entry, newest first."""
        return self._select("1", limit, order="id DESC")

    def count(self, *states: JournalState) -> int:
        wanted = [s.value for s in states] or [s.value for s in JournalState]
        marks = ", ".join("?" * len(wanted))
        with self._db.read() as conn:
            sql = f"SELECT count(*) FROM journal WHERE state IN ({marks})"  # noqa: S608
            return int(conn.execute(sql, wanted).fetchone()[0])

    def recover(self) -> list[JournalEntry]:
        """Queue the entries a stopped station left unanswered (`journaled`); return them.

        Call it before this process journals anything: its own unanswered entries would be taken too.
        Queuing them twice is harmless, since every push is idempotent."""
        with self._writing("queue DeviceIDs left by a stopped station") as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM journal WHERE state = 'journaled' ORDER BY id"  # noqa: S608
            ).fetchall()
            conn.execute(
                "UPDATE journal SET state = 'queued', reason = 'received by a station that stopped before "
                "pushing it', updated_ms = ? WHERE state = 'journaled'",
                (to_ms(datetime.now(UTC)),),
            )
        return [_entry(row) for row in rows]

    def _select(self, where: str, limit: int, order: str = "id") -> list[JournalEntry]:
        with self._db.read() as conn:
            sql = f"SELECT {_COLUMNS} FROM journal WHERE {where} ORDER BY {order} LIMIT ?"  # noqa: S608
            rows = conn.execute(sql, (limit,)).fetchall()
        return [_entry(row) for row in rows]

    @contextmanager
    def _writing(self, what: str) -> Iterator[sqlite3.Connection]:
        try:
            with self._db.write() as conn:
                yield conn
        except sqlite3.Error as exc:
            raise self._error(f"could not {what} in {self._db.path}: {exc}") from None


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    return JournalEntry(
        id=row[0],
        device_id=DeviceID(row[1]),
        batch=row[2],
        move=bool(row[3]),
        received_at=from_ms(row[4]),
        state=JournalState(row[5]),
        idempotency_key=row[6],
        port=row[7],
        mac=row[8],
        task=row[9],
        reason=row[10],
        attempts=row[11],
    )
