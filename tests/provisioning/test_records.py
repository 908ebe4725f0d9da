"""Provisioning records and their link to the DeviceID journal, on a real SQLite file."""

from __future__ import annotations

import csv
import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.device_id import DeviceID
from app.domain.records import PageRequest
from app.provisioning import record_search
from app.provisioning.device_journal import JournalState
from app.provisioning.events import Outcome
from app.provisioning.record_export import ExportFormat
from app.provisioning.record_query import RecordFilter
from app.provisioning.records import (
    _MIGRATIONS,
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


OFFLINE = "enrolment not confirmed: offline (DeviceID queued)"


def test_a_pass_with_a_warning_keeps_it_and_can_be_found_filtered_and_exported(tmp_path: Path) -> None:
    with RecordsDB(tmp_path / "r.sqlite3") as db:
        db.add(_record(1))
        warned = db.add(_record(2, warning=OFFLINE, push_state=PushState.QUEUED))
        db.add(_record(3, outcome=Outcome.FAIL, error="board vanished", push_state=PushState.NONE))
        got = db.get(warned.id)
        assert got is not None and (got.warning, got.error) == (OFFLINE, "")
        assert [r.id for r in db.list_records(where=RecordFilter(warned=True)).items] == [warned.id]
        assert RecordFilter(warned=True).describe() == "passed with a warning"
        assert db.list_records(where=RecordFilter(outcome=Outcome.PASS)).total == 2, "a warned pass passed"
        assert [r.id for r in db.list_records(PageRequest(search="not confirmed")).items] == [warned.id]
        assert db.export(tmp_path / "out.json", ExportFormat.JSON) == 3
        assert db.export_csv(tmp_path / "out.csv") == 3
    exported = {r["id"]: r["warning"] for r in json.loads((tmp_path / "out.json").read_text("utf-8"))}
    assert exported == {1: "", 2: OFFLINE, 3: ""}
    rows = list(csv.DictReader((tmp_path / "out.csv").open(encoding="utf-8")))
    assert {int(r["id"]): r["warning"] for r in rows} == exported


_OLD_INDEX = record_search._CREATE.replace(" || char(10) || new.warning", "").replace(
    " || char(10) || warning", ""
)


def test_records_from_before_warnings_open_and_are_searched_with_them(tmp_path: Path) -> None:
    """A file at schema 6 (no warning column, a search index without it) is brought forward: its rows
    have no warning, and the remade search index finds old and new rows."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for script in _MIGRATIONS[:6]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 6")
    for statement in record_search._statements(_OLD_INDEX):  # the search index as schema 6 had it
        conn.execute(statement)
    conn.execute(
        "INSERT INTO records (at_ms, operator, station, port, mode, batch, outcome, duration_ms, error, "
        "push_state) VALUES (1, 'ann', 'bench', 'COM3', 'provision', 'line-1', 'fail', 5, 'old vanished', "
        "'none')"
    )
    conn.commit()
    conn.close()
    with RecordsDB(path) as db:
        (old,) = db.list_records().items
        assert (old.error, old.warning) == ("old vanished", "")
        db.add(_record(1, warning=OFFLINE))
        assert db.list_records(PageRequest(search="vanished")).total == 1
        assert db.list_records(PageRequest(search="offline (DeviceID")).total == 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
