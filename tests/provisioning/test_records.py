"""Provisioning records and their link to the DeviceID journal, on a real SQLite file."""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.device_id import DeviceID
from app.domain.records import PageRequest
from app.provisioning.device_journal import JournalState
from app.provisioning.events import Outcome
from app.provisioning.records import (
    CSV_COLUMNS,
    SCHEMA_VERSION,
    ProvisioningRecord,
    PushState,
    RecordsDB,
    RecordsError,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _record(n: int, **changes: object) -> ProvisioningRecord:
    values: dict[str, object] = {
        "at": T0 + timedelta(seconds=n),
        "operator": "station",
        "station": "bench-1",
        "port": f"rfc2217://127.0.0.1:{5000 + n}",
        "mode": "provision",
        "batch": "line-1",
        "outcome": Outcome.PASS,
        "duration_s": 12.345,
        "push_state": PushState.PUSHED,
        "task": "t1",
        "chip": "esp32c3",
        "mac": f"aa:bb:cc:dd:ee:{n:02x}",
        "device_id": f"{n:064x}",
        "image_sha256s": ("11" * 32, "22" * 32),
    }
    values.update(changes)
    return ProvisioningRecord(**values)  # type: ignore[arg-type]


def test_add_and_list_newest_first(tmp_path: Path) -> None:
    with RecordsDB(tmp_path / "records.sqlite3") as db:
        for n in range(5):
            db.add(_record(n))
        page = db.list_records(PageRequest(offset=1, limit=2))
    assert page.total == 5
    assert [r.port for r in page.items] == ["rfc2217://127.0.0.1:5003", "rfc2217://127.0.0.1:5002"]
    first = page.items[0]
    assert first.id == 4 and first.image_sha256s == ("11" * 32, "22" * 32)
    assert first.duration_s == pytest.approx(12.345)
    assert first.at == T0 + timedelta(seconds=3)


def test_search(tmp_path: Path) -> None:
    with RecordsDB(tmp_path / "r.sqlite3") as db:
        db.add(_record(1))
        db.add(_record(2, outcome=Outcome.FAIL, error="board vanished 100%_done", push_state=PushState.NONE))
        assert db.list_records(PageRequest(search="vanished")).total == 1
        assert db.list_records(PageRequest(search="fail")).total == 1
        assert db.list_records(PageRequest(search="100%_")).total == 1
        assert db.list_records(PageRequest(search="%")).total == 1  # a literal %, not a wildcard
        assert db.list_records(PageRequest(search=f"{2:064x}")).items[0].outcome is Outcome.FAIL


def test_reopen_keeps_rows_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    with RecordsDB(path) as db:
        db.add(_record(1))
    with RecordsDB(path) as db:
        assert db.list_records().total == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(RecordsError, match="written by a newer station"):
        RecordsDB(path)


def test_unopenable_file(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(RecordsError, match="cannot open the provisioning records"):
        RecordsDB(tmp_path / "dir.sqlite3")


def test_csv_export(tmp_path: Path) -> None:
    out = tmp_path / "records.csv"
    with RecordsDB(tmp_path / "r.sqlite3") as db:
        db.add(_record(1))
        db.add(_record(2, outcome=Outcome.CANCELLED, error="=HYPERLINK(1)", push_state=PushState.NONE))
        assert db.export_csv(out) == 2
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1][CSV_COLUMNS.index("outcome")] == "cancelled"
    assert rows[1][CSV_COLUMNS.index("error")] == "'=HYPERLINK(1)"
    assert rows[2][CSV_COLUMNS.index("device_id")] == f"{1:064x}"
    assert rows[2][CSV_COLUMNS.index("time")] == "2025-03-01T12:00:01+00:00"


def test_csv_to_unwritable_place(tmp_path: Path) -> None:
    with RecordsDB(tmp_path / "r.sqlite3") as db, pytest.raises(RecordsError, match="cannot write"):
        db.export_csv(tmp_path / "missing" / "x.csv")


def test_a_record_takes_its_push_state_from_its_journal_entry(tmp_path: Path) -> None:
    with RecordsDB(tmp_path / "r.sqlite3") as db:
        entry = db.journal.receive(DeviceID(f"{7:064x}"), batch="line-1", move=False)
        record = db.add(replace(_record(7, push_state=PushState.NONE), journal_id=entry.id))
        assert record.push_state is PushState.QUEUED  # journaled, not answered: owed to the instance
        db.journal.settle(entry.id, JournalState.REFUSED, "in batch 'other'")
        (stored,) = db.list_records().items
        assert (stored.push_state, stored.error, stored.journal_id) == (
            PushState.REFUSED,
            "in batch 'other'",
            entry.id,
        )
