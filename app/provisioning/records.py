"""Provisioning records: one row per board the station worked on, and the DeviceID journal.

A production line is audited from these rows (who, where, which board, which images, what happened),
so they live in their own SQLite file in the station data folder, apart from any instance, and survive
the instance being unreachable. The journal (app/provisioning/device_journal.py) holds every DeviceID a
board gave, from before it was acknowledged until the instance answered; its queued entries are the
outbox. The file is synced on every commit (`synchronous = FULL`): a journal entry must survive a power
cut. No secret is ever written here: the WiFi password is not part of a record, and a record's step
log (app/provisioning/step_log.py) passed the run's Redactor before it got here.

A person finds records by filters (app/provisioning/record_query.py) answered by indexes, and by any
fragment of text through a trigram search index (app/provisioning/record_search.py); exports are
app/provisioning/record_export.py's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from app.domain.errors import StationError
from app.domain.records import MAX_PAGE_SIZE, Page, PageRequest
from app.provisioning.device_journal import DeviceJournal
from app.provisioning.events import Outcome
from app.provisioning.record_export import (
    CSV_COLUMNS,
    ExportError,
    ExportFormat,
    csv_row,
    write_records,
)
from app.provisioning.record_query import EVERY_RECORD, RecordFilter
from app.provisioning.record_search import ensure_index, has_index
from app.provisioning.step_log import StepLogEntry, decode, encode
from app.system.sqlite_file import SqliteFile, from_ms, to_ms
from app.system.sqlite_paging import fetch_page

__all__ = ["CSV_COLUMNS", "ProvisioningRecord", "PushState", "RecordFilter", "RecordsDB", "csv_row"]

RECORDS_BUSY_TIMEOUT_MS = 2000
"""Another station process writing its records waits this long at most: a board is waiting for its ack."""
DISTINCT_LIMIT = 500
"""The most batch/task/operator names offered in a filter's list (a line has a handful)."""


class RecordsError(StationError):
    """The records file cannot be opened or written (unreadable, newer schema, disk full)."""


class PushState(Enum):
    """Where the board's DeviceID stands with the instance."""

    PUSHED = "pushed"  # in the batch (added now, or it already was)
    QUEUED = "queued"  # owed to the instance: in the outbox, or its push was still unanswered
    REFUSED = "refused"  # the instance said no (e.g. the ID belongs to another batch); see the error
    NONE = "none"  # no DeviceID was received


@dataclass(frozen=True)
class ProvisioningRecord:
    at: datetime
    operator: str
    station: str
    port: str
    mode: str
    batch: str
    outcome: Outcome
    duration_s: float
    push_state: PushState
    task: str = ""
    chip: str = ""
    mac: str = ""
    device_id: str = ""
    image_sha256s: tuple[str, ...] = ()
    error: str = ""
    journal_id: int = 0  # the DeviceID journal entry of this board's ID (0: it gave none)
    step: str = ""  # the step the run ended at (where it failed, or "done")
    step_log: tuple[StepLogEntry, ...] = ()  # bounded and redacted (app/provisioning/step_log.py)
    warning: str = ""  # a pass that is not plain: why (app/provisioning/pass_warning.py); '' otherwise
    id: int = 0

    @property
    def reason(self) -> str:
        """Why it did not pass ('' for a pass): the error a person was shown."""
        return self.error


_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE records (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        operator TEXT NOT NULL,
        station TEXT NOT NULL,
        port TEXT NOT NULL,
        mode TEXT NOT NULL,
        chip TEXT NOT NULL DEFAULT '',
        mac TEXT NOT NULL DEFAULT '',
        device_id TEXT NOT NULL DEFAULT '',
        task TEXT NOT NULL DEFAULT '',
        batch TEXT NOT NULL,
        image_sha256s TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'cancelled')),
        duration_ms INTEGER NOT NULL,
        error TEXT NOT NULL DEFAULT '',
        push_state TEXT NOT NULL CHECK (push_state IN ('pushed', 'queued', 'refused', 'none'))
    );
    CREATE INDEX records_by_time ON records (at_ms);
    CREATE INDEX records_by_device ON records (device_id);
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        batch TEXT NOT NULL,
        device_id TEXT NOT NULL,
        queued_ms INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        UNIQUE (batch, device_id)
    );
    """,
    """
    ALTER TABLE outbox ADD COLUMN move INTEGER NOT NULL DEFAULT 0;
    """,
    """
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,
        batch TEXT NOT NULL,
        move INTEGER NOT NULL DEFAULT 0,
        received_ms INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('journaled', 'queued', 'pushed', 'refused')),
        idempotency_key TEXT NOT NULL UNIQUE,
        port TEXT NOT NULL DEFAULT '',
        mac TEXT NOT NULL DEFAULT '',
        task TEXT NOT NULL DEFAULT '',
        reason TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL DEFAULT 0,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX journal_owed ON journal (state, id) WHERE state IN ('journaled', 'queued');
    CREATE INDEX journal_by_device ON journal (device_id);
    INSERT INTO journal (device_id, batch, move, received_ms, state, idempotency_key, reason, attempts,
                         updated_ms)
        SELECT device_id, batch, move, queued_ms, 'queued', lower(hex(randomblob(16))), last_error, attempts,
               queued_ms
        FROM outbox ORDER BY id;
    DROP TABLE outbox;
    ALTER TABLE records ADD COLUMN journal_id INTEGER REFERENCES journal (id);
    UPDATE records SET journal_id = (
        SELECT j.id FROM journal j WHERE j.batch = records.batch AND j.device_id = records.device_id
    ) WHERE push_state = 'queued';
    CREATE INDEX records_by_journal ON records (journal_id);
    """,
    # 4: what a person needs to look back at a board (the step it ended at, its step log), and the
    # indexes of the Records page's filters. `records_by_mac` is also how the check step finds what
    # this station already did to a board (by its MAC) before anything irreversible.
    """
    ALTER TABLE records ADD COLUMN step TEXT NOT NULL DEFAULT '';
    ALTER TABLE records ADD COLUMN step_log TEXT NOT NULL DEFAULT '';
    CREATE INDEX records_by_mac ON records (mac);
    CREATE INDEX records_by_outcome ON records (outcome, at_ms);
    CREATE INDEX records_by_batch ON records (batch, at_ms);
    CREATE INDEX records_by_task ON records (task, at_ms);
    CREATE INDEX records_by_operator ON records (operator, at_ms);
    """,
    # 5: a person's decision on a refused DeviceID (the outbox's "needs attention"): the refused entry
    # stays, linked to the push that replaced it, or discarded with the reason.
    """
    CREATE TABLE journal_actions (
        journal_id INTEGER PRIMARY KEY REFERENCES journal (id),
        action TEXT NOT NULL CHECK (action IN ('moved', 'rebatched', 'discarded')),
        reason TEXT NOT NULL DEFAULT '',
        successor_id INTEGER REFERENCES journal (id),
        operator TEXT NOT NULL DEFAULT '',
        at_ms INTEGER NOT NULL
    );
    """,
    # 6: the check step looks a board up by MAC in the journal too (records_by_mac came with 4).
    """
    CREATE INDEX IF NOT EXISTS records_by_mac ON records (mac);
    CREATE INDEX IF NOT EXISTS journal_by_mac ON journal (mac);
    """,
    # 7: why a pass is not plain (offline, kept WiFi: app/provisioning/pass_warning.py), as its tile
    # said. The search index is dropped so that it is made again with the warning in its text.
    """
    ALTER TABLE records ADD COLUMN warning TEXT NOT NULL DEFAULT '';
    DROP TRIGGER IF EXISTS records_text_insert;
    DROP TRIGGER IF EXISTS records_text_delete;
    DROP TABLE IF EXISTS records_text;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_RECORD_COLUMNS = (
    "id, at_ms, operator, station, port, mode, chip, mac, device_id, task, batch, image_sha256s, outcome, "
    "duration_ms, error, push_state, journal_id, step, step_log, warning"
)
ITERATE_PAGE = MAX_PAGE_SIZE  # records read per query while iterating (an export)
_LISTED_COLUMNS = _RECORD_COLUMNS.replace("step_log", "'' AS step_log")
_INSERT_RECORD = f"INSERT INTO records ({_RECORD_COLUMNS}) VALUES (NULL{', ?' * 19})"  # noqa: S608


class RecordsDB:
    """The records file. One connection shared by the station's threads, every use under one lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SqliteFile(
            path, what="provisioning records", error=RecordsError, busy_timeout_ms=RECORDS_BUSY_TIMEOUT_MS
        )
        try:
            self._db.migrate(_MIGRATIONS, advice="update the station")
            with self._db.session() as conn:
                conn.execute("PRAGMA synchronous = FULL")
                self.indexed = has_index(conn)
            if not self.indexed:  # made once (after an update, the existing records are indexed then)
                with self._db.write() as conn:
                    self.indexed = ensure_index(conn)  # False: search reads every row (no FTS5 here)
        except sqlite3.Error as exc:
            self._db.close()
            raise RecordsError(f"cannot open the provisioning records {path}: {exc}") from None
        except BaseException:
            self._db.close()
            raise
        self.journal = DeviceJournal(self._db, RecordsError)

    def __enter__(self) -> RecordsDB:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    # --- records ---------------------------------------------------------------------------------
    def add(self, record: ProvisioningRecord) -> ProvisioningRecord:
        """Write a record. One with a journal entry takes its push state from the entry, in the same
        transaction, so a push answered while the record was being made is not lost from it."""
        try:
            with self._db.write() as conn:
                if record.journal_id:
                    record = replace(record, push_state=_journal_push_state(conn, record.journal_id))
                cursor = conn.execute(
                    _INSERT_RECORD,
                    (
                        to_ms(record.at),
                        record.operator,
                        record.station,
                        record.port,
                        record.mode,
                        record.chip,
                        record.mac,
                        record.device_id,
                        record.task,
                        record.batch,
                        " ".join(record.image_sha256s),
                        record.outcome.value,
                        round(record.duration_s * 1000),
                        record.error,
                        record.push_state.value,
                        record.journal_id or None,
                        record.step,
                        encode(record.step_log),
                        record.warning,
                    ),
                )
                new_id = int(cursor.lastrowid or 0)
        except sqlite3.Error as exc:
            raise RecordsError(f"cannot write a provisioning record to {self.path}: {exc}") from None
        return replace(record, id=new_id)

    def newest_device_id_for_mac(self, mac: str) -> tuple[str, str] | None:
        """The newest DeviceID the board with this MAC gave, and the batch it was pushed into ("" when
        the push did not happen), from the journal, or from the records that predate the journal."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT device_id, CASE WHEN state = 'pushed' THEN batch ELSE '' END, received_ms "
                "FROM journal WHERE mac = ? ORDER BY id DESC LIMIT 1",
                (mac,),
            ).fetchone()
            old = conn.execute(
                "SELECT device_id, CASE WHEN push_state = 'pushed' THEN batch ELSE '' END, at_ms "
                "FROM records WHERE mac = ? AND device_id != '' ORDER BY id DESC LIMIT 1",
                (mac,),
            ).fetchone()
        newest = max((r for r in (row, old) if r is not None), key=lambda r: int(r[2]), default=None)
        return None if newest is None else (str(newest[0]), str(newest[1]))

    def list_records(
        self, page: PageRequest = PageRequest(), where: RecordFilter = EVERY_RECORD, *, steps: bool = True
    ) -> Page[ProvisioningRecord]:
        """Newest first, matching `where`; `page.search` (or `where.search`) matches port, DeviceID,
        batch, task, chip, MAC, outcome, operator, step or error. Without `steps` the records come
        without their step logs (a list does not show them; `get` reads one whole)."""
        if page.search.strip() and not where.search.strip():
            where = replace(where, search=page.search)
        clause, params = where.where(self.indexed)
        with self._db.read() as conn:
            return fetch_page(
                conn,
                select=_RECORD_COLUMNS if steps else _LISTED_COLUMNS,
                table="records",
                where=clause,
                params=params,
                order_by="at_ms DESC, id DESC",
                page=page,
                row_to_item=_record,
                one_pass=self.indexed and where.searches_index(),
            )

    def get(self, record_id: int) -> ProvisioningRecord | None:
        with self._db.read() as conn:
            sql = f"SELECT {_RECORD_COLUMNS} FROM records WHERE id = ?"  # noqa: S608
            row = conn.execute(sql, (record_id,)).fetchone()
        return _record(row) if row is not None else None

    def iterate(self, where: RecordFilter | str = EVERY_RECORD) -> Iterator[ProvisioningRecord]:
        """Every matching record, newest first, read a page at a time.

        Each page starts after the last record of the one before (at_ms, id), not at an offset: an
        offset makes SQLite step over every earlier row again, which made exporting 100,000 records
        spend 7 of its 13 s reading rows it had already read. Records are only ever inserted, so a
        record written meanwhile is either newer than the export started with or simply included.
        """
        where = RecordFilter(search=where) if isinstance(where, str) else where
        clause, params = where.where(self.indexed)
        after: list[int] = []
        while True:
            keyset = " AND (at_ms, id) < (?, ?)" if after else ""
            sql = (
                f"SELECT {_RECORD_COLUMNS} FROM records WHERE ({clause}){keyset} "  # noqa: S608
                "ORDER BY at_ms DESC, id DESC LIMIT ?"
            )
            with self._db.read() as conn:
                rows = conn.execute(sql, [*params, *after, ITERATE_PAGE]).fetchall()
            yield from (_record(row) for row in rows)
            if len(rows) < ITERATE_PAGE:
                return
            after = [rows[-1][1], rows[-1][0]]

    def last_id(self) -> int:
        """The id of the newest record (0: none): how a page sees at a glance that boards finished."""
        with self._db.read() as conn:
            return int(conn.execute("SELECT coalesce(max(id), 0) FROM records").fetchone()[0])

    def distinct(self, column: str) -> list[str]:
        """The batch, task or operator names the records hold, for a filter's choices."""
        if column not in ("batch", "task", "operator"):
            raise ValueError(f"no filter choices for {column!r}")
        sql = f"SELECT DISTINCT {column} FROM records WHERE {column} != '' ORDER BY {column} LIMIT ?"  # noqa: S608
        with self._db.read() as conn:
            return [row[0] for row in conn.execute(sql, (DISTINCT_LIMIT,))]

    def export(self, path: Path, fmt: ExportFormat, where: RecordFilter = EVERY_RECORD) -> int:
        """Write every matching record (newest first) to `path`; returns how many were written."""
        try:
            return write_records(path, self.iterate(where), fmt)
        except ExportError as exc:
            raise RecordsError(str(exc)) from None

    def export_csv(self, path: Path, search: str = "") -> int:
        return self.export(path, ExportFormat.CSV, RecordFilter(search=search))

    # --- throughput ------------------------------------------------------------------------------
    def outcome_counts(self, where: RecordFilter, bucket_s: int) -> list[tuple[int, Outcome, int]]:
        """(bucket start in ms since the epoch, outcome, records) for buckets of `bucket_s` seconds."""
        clause, params = where.where(self.indexed)
        bucket_ms = int(bucket_s) * 1000
        sql = (
            f"SELECT (at_ms / {bucket_ms}) * {bucket_ms} AS bucket, outcome, count(*) FROM records "  # noqa: S608
            f"WHERE {clause} GROUP BY bucket, outcome ORDER BY bucket"
        )
        with self._db.read() as conn:
            return [(row[0], Outcome(row[1]), row[2]) for row in conn.execute(sql, params)]

    def failure_counts(self, where: RecordFilter) -> list[tuple[str, str, int]]:
        """(step, reason, records) of every failed record matching `where`."""
        clause, params = replace(where, outcome=Outcome.FAIL).where(self.indexed)
        sql = f"SELECT step, error, count(*) FROM records WHERE {clause} GROUP BY step, error"  # noqa: S608
        with self._db.read() as conn:
            return [(row[0], row[1], row[2]) for row in conn.execute(sql, params)]


def _journal_push_state(conn: sqlite3.Connection, journal_id: int) -> PushState:
    row = conn.execute("SELECT state FROM journal WHERE id = ?", (journal_id,)).fetchone()
    if row is None:
        raise RecordsError(f"the record names DeviceID journal entry {journal_id}, which does not exist")
    return PushState.QUEUED if row[0] == "journaled" else PushState(row[0])


def _record(row: tuple[Any, ...]) -> ProvisioningRecord:
    return ProvisioningRecord(
        id=row[0],
        at=from_ms(row[1]),
        operator=row[2],
        station=row[3],
        port=row[4],
        mode=row[5],
        chip=row[6],
        mac=row[7],
        device_id=row[8],
        task=row[9],
        batch=row[10],
        image_sha256s=tuple(row[11].split()),
        outcome=Outcome(row[12]),
        duration_s=row[13] / 1000,
        error=row[14],
        push_state=PushState(row[15]),
        journal_id=row[16] or 0,
        step=row[17],
        step_log=decode(row[18]),
        warning=row[19],
    )
