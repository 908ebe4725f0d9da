"""Pushing a DeviceID into its batch: added, already there, refused, moved on re-enrol, queued offline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from app.instance.local.instance import LocalInstance
from app.provisioning.device_push import flush_outbox, push_device
from app.provisioning.records import PushState, RecordsDB

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


def test_a_fresh_flash_never_moves_a_device_from_another_batch(
    local: LocalInstance, records: RecordsDB
) -> None:
    result = push_device(local, records, "field", DEVICE)
    assert result.state is PushState.REFUSED
    assert "already belongs to batch 'factory'" in result.message
    assert local.find_device(DEVICE).batch == "factory"  # type: ignore[union-attr]


def test_reenrol_moves_the_device(local: LocalInstance, records: RecordsDB) -> None:
    result = push_device(local, records, "field", DEVICE, move=True)
    assert result.state is PushState.PUSHED
    assert result.message == f"DeviceID {DEVICE} moved from batch 'factory' to 'field'"
    assert local.find_device(DEVICE).batch == "field"  # type: ignore[union-attr]


def test_reenrol_queued_offline_still_moves_when_flushed(local: LocalInstance, records: RecordsDB) -> None:
    queued = push_device(NetworkDown(local), records, "field", DEVICE, move=True)  # type: ignore[arg-type]
    assert queued.state is PushState.QUEUED
    assert [(p.batch, p.device_id, p.move) for p in records.pending_pushes()] == [("field", DEVICE, True)]
    report = flush_outbox(local, records)
    assert (report.pushed, report.refused, report.still_queued) == (1, 0, 0)
    assert local.find_device(DEVICE).batch == "field"  # type: ignore[union-attr]
