"""The DeviceID journal on a real records file: saved before anything else, only ever moving forward."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.domain.device_id import DeviceID
from app.provisioning.device_journal import JournalState
from app.provisioning.records import SCHEMA_VERSION, RecordsDB

DEVICE = DeviceID(hashlib.sha256(b"board on port 3").hexdigest())
OTHER = DeviceID(hashlib.sha256(b"board on port 4").hexdigest())


@pytest.fixture
def records(tmp_path: Path) -> RecordsDB:
    db = RecordsDB(tmp_path / "records.sqlite3")
    yield db  # type: ignore[misc]
    db.close()


def test_a_received_id_is_journaled_with_where_it_came_from(records: RecordsDB) -> None:
    entry = records.journal.receive(DEVICE, batch="line-1", move=False, port="COM7", mac="aa:bb", task="t")
    assert (entry.state, entry.device_id, entry.batch, entry.port, entry.mac) == (
        JournalState.JOURNALED, DEVICE, "line-1", "COM7", "aa:bb",
    )  # fmt: skip
    assert len(entry.idempotency_key) == 32 and entry.owed
    assert records.journal.get(entry.id) == entry


def test_the_same_device_owed_to_the_same_batch_is_one_entry(records: RecordsDB) -> None:
    first = records.journal.receive(DEVICE, batch="line-1", move=False)
    again = records.journal.receive(DEVICE, batch="line-1", move=False)
    moved = records.journal.receive(DEVICE, batch="line-1", move=True)
    assert again.id == first.id and moved.id != first.id
    records.journal.settle(first.id, JournalState.PUSHED)
    after_push = records.journal.receive(DEVICE, batch="line-1", move=False)
    assert after_push.id not in (first.id, moved.id)  # provisioned again later: a new reception


def test_entries_only_move_forward(records: RecordsDB) -> None:
    entry = records.journal.receive(DEVICE, batch="line-1", move=False)
    records.journal.settle(entry.id, JournalState.QUEUED, "connection refused")
    records.journal.settle(entry.id, JournalState.PUSHED)
    records.journal.settle(entry.id, JournalState.QUEUED, "too late")  # a settled entry stays settled
    settled = records.journal.get(entry.id)
    assert settled is not None and settled.state is JournalState.PUSHED and settled.attempts == 1
    with pytest.raises(ValueError, match="never moves back"):
        records.journal.settle(entry.id, JournalState.JOURNALED)


def test_recover_queues_what_a_stopped_station_left(records: RecordsDB) -> None:
    left = records.journal.receive(DEVICE, batch="line-1", move=False)
    done = records.journal.receive(OTHER, batch="line-1", move=False)
    records.journal.settle(done.id, JournalState.PUSHED)
    assert [e.id for e in records.journal.recover()] == [left.id]
    (queued,) = records.journal.outbox()
    assert queued.id == left.id and "stopped before pushing" in queued.reason
    assert records.journal.recover() == []


def test_an_entry_survives_the_process_being_killed(tmp_path: Path) -> None:
    """kill -9 right after the journal write: the entry is there for the next station."""
    path = tmp_path / "records.sqlite3"
    script = (
        "import os, sys\n"
        "from app.provisioning.records import RecordsDB\n"
        "db = RecordsDB(__import__('pathlib').Path(sys.argv[1]))\n"
        f"db.journal.receive({DEVICE!r}, batch='line-1', move=False, port='p')\n"
        "os.kill(os.getpid(), 9)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], check=False, timeout=60)
    assert done.returncode == -9
    with RecordsDB(path) as db:
        (entry,) = db.journal.recover()
        assert (entry.device_id, entry.port) == (DEVICE, "p")


def test_the_outbox_of_an_older_station_becomes_queued_entries(tmp_path: Path) -> None:
    """A records file of schema 2 (outbox table) keeps every queued push when it is opened."""
    path = tmp_path / "records.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE records (id INTEGER PRIMARY KEY, at_ms INTEGER NOT NULL, operator TEXT NOT NULL,
            station TEXT NOT NULL, port TEXT NOT NULL, mode TEXT NOT NULL, chip TEXT NOT NULL DEFAULT '',
            mac TEXT NOT NULL DEFAULT '', device_id TEXT NOT NULL DEFAULT '', task TEXT NOT NULL DEFAULT '',
            batch TEXT NOT NULL, image_sha256s TEXT NOT NULL DEFAULT '', outcome TEXT NOT NULL,
            duration_ms INTEGER NOT NULL, error TEXT NOT NULL DEFAULT '', push_state TEXT NOT NULL);
        CREATE TABLE outbox (id INTEGER PRIMARY KEY, batch TEXT NOT NULL, device_id TEXT NOT NULL,
            queued_ms INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT NOT NULL DEFAULT '', move INTEGER NOT NULL DEFAULT 0, UNIQUE (batch, device_id));
        PRAGMA user_version = 2;
        """
    )
    conn.execute(
        "INSERT INTO records (at_ms, operator, station, port, mode, device_id, batch, outcome, duration_ms,"
        " push_state) VALUES (1, 'op', 'st', 'p', 'provision', ?, 'line-1', 'pass', 5, 'queued')",
        (DEVICE,),
    )
    conn.execute(
        "INSERT INTO outbox (batch, device_id, queued_ms, attempts, last_error, move) "
        "VALUES ('line-1', ?, 1000, 3, 'timed out', 1)",
        (DEVICE,),
    )
    conn.commit()
    conn.close()
    with RecordsDB(path) as db:
        (entry,) = db.journal.outbox()
        assert (entry.device_id, entry.batch, entry.move, entry.attempts, entry.reason) == (
            DEVICE, "line-1", True, 3, "timed out",
        )  # fmt: skip
        (record,) = db.list_records().items
        assert record.journal_id == entry.id
        db.journal.settle(entry.id, JournalState.PUSHED)
        assert db.list_records().items[0].push_state.value == "pushed"
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    check.close()
