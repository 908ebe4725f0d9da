"""Delivering a journaled DeviceID to its batch: added, already there, refused, moved on re-enrol, queued
offline, and the journal entry settled each time."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.instance.api import Instance
from app.instance.local.instance import LocalInstance
from app.provisioning.device_journal import JournalState
from app.provisioning.device_push import PushResult, deliver, flush_outbox
from app.provisioning.records import RecordsDB

from .network import NetworkDown

DEVICE = hashlib.sha256(b"field board").hexdigest()


@pytest.fixture
def local(tmp_path: Path) -> LocalInstance:
    instance = LocalInstance.open(tmp_path / "local.sqlite3")
    instance.create_batch("factory")
    instance.create_batch("field")
    instance.add_devices("factory", [DEVICE])
    yield instance  # type: ignore[misc]
    instance.close()


@pytest.fixture
def records(tmp_path: Path) -> RecordsDB:
    db = RecordsDB(tmp_path / "records.sqlite3")
    yield db  # type: ignore[misc]
    db.close()


def push(instance: Instance, records: RecordsDB, batch: str, move: bool = False) -> PushResult:
    entry = records.journal.receive(DEVICE, batch=batch, move=move)
    return deliver(instance, records.journal, entry)


def test_a_fresh_flash_never_moves_a_device_from_another_batch(
    local: LocalInstance, records: RecordsDB
) -> None:
    result = push(local, records, "field")
    assert result.state is JournalState.REFUSED
    assert "already belongs to batch 'factory'" in result.message
    (entry,) = records.journal.entries()
    assert (entry.state, entry.reason) == (JournalState.REFUSED, result.message)
    assert local.find_device(DEVICE).batch == "factory"  # type: ignore[union-attr]


def test_reenrol_moves_the_device(local: LocalInstance, records: RecordsDB) -> None:
    result = push(local, records, "field", move=True)
    assert result.state is JournalState.PUSHED
    assert records.journal.entries()[0].state is JournalState.PUSHED
    assert result.message == f"DeviceID {DEVICE} moved from batch 'factory' to 'field'"
    assert local.find_device(DEVICE).batch == "field"  # type: ignore[union-attr]


def test_reenrol_queued_offline_still_moves_when_flushed(local: LocalInstance, records: RecordsDB) -> None:
    queued = push(NetworkDown(local), records, "field", move=True)  # type: ignore[arg-type]
    assert queued.state is JournalState.QUEUED
    outbox = records.journal.outbox()
    assert [(e.batch, e.device_id, e.move, e.attempts) for e in outbox] == [("field", DEVICE, True, 1)]
    report = flush_outbox(local, records.journal)
    assert (report.pushed, report.refused, report.still_queued) == (1, 0, 0)
    assert local.find_device(DEVICE).batch == "field"  # type: ignore[union-attr]


def test_a_push_still_down_stays_queued_and_counts_its_tries(
    local: LocalInstance, records: RecordsDB
) -> None:
    push(NetworkDown(local), records, "field", move=True)  # type: ignore[arg-type]
    report = flush_outbox(NetworkDown(local), records.journal)  # type: ignore[arg-type]
    assert (report.pushed, report.still_queued) == (0, 1)
    assert "cannot be reached" in report.unreachable
    (entry,) = records.journal.outbox()
    assert entry.attempts == 2
