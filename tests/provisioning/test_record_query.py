"""Records as a person looks them up: filters, the schema migration, exports and the step log."""

from __future__ import annotations

import csv
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.errors import ValidationError
from app.domain.records import PageRequest
from app.provisioning import records as records_module
from app.provisioning.events import Outcome
from app.provisioning.job import Redactor
from app.provisioning.record_export import CSV_COLUMNS, ExportFormat, format_for
from app.provisioning.record_query import RecordFilter, parse_moment, parse_outcome
from app.provisioning.records import SCHEMA_VERSION, ProvisioningRecord, PushState, RecordsDB, RecordsError
from app.provisioning.step_log import SKIPPED, StepLog, StepLogEntry, decode, encode

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
SECRET = "hunter2-wifi-pass"


def _record(n: int, **changes: object) -> ProvisioningRecord:
    failed = n % 3 == 0
    values: dict[str, object] = {
        "at": T0 + timedelta(minutes=10 * n),
        "operator": "alice" if n % 2 else "bob",
        "station": "bench-1",
        "port": f"/dev/ttyUSB{n % 4}",
        "mode": "provision",
        "batch": "line-1" if n < 6 else "line-2",
        "outcome": Outcome.FAIL if failed else Outcome.PASS,
        "duration_s": 10.0 + n,
        "push_state": PushState.NONE if failed else PushState.PUSHED,
        "task": "c3-dev",
        "chip": "ESP32-C3",
        "mac": f"aa:bb:cc:dd:ee:{n:02x}",
        "device_id": "" if failed else f"{n:064x}",
        "error": "the board printed nothing after reset" if failed else "",
        "step": "boot" if failed else "done",
        "step_log": (
            StepLogEntry(T0 + timedelta(minutes=10 * n), "detect", "started"),
            StepLogEntry(T0 + timedelta(minutes=10 * n, seconds=2), "detect", "passed", "ESP32-C3"),
        ),
    }
    values.update(changes)
    return ProvisioningRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def db(tmp_path: Path) -> RecordsDB:
    opened = RecordsDB(tmp_path / "records.sqlite3")
    for n in range(12):
        opened.add(_record(n))
    yield opened  # type: ignore[misc]
    opened.close()


def _total(db: RecordsDB, **kw: object) -> int:
    return db.list_records(PageRequest(limit=100), RecordFilter(**kw)).total  # type: ignore[arg-type]


def test_each_filter_and_their_combination(db: RecordsDB) -> None:
    assert _total(db) == 12
    assert _total(db, outcome=Outcome.FAIL) == 4  # 0, 3, 6, 9
    assert _total(db, batch="line-2") == 6
    assert _total(db, batch="line") == 0  # exact, not a substring
    assert _total(db, operator="alice") == 6
    assert _total(db, task="c3-dev") == 12
    assert _total(db, search="ttyUSB1") == 3  # 1, 5, 9
    assert _total(db, search="printed nothing") == 4
    assert _total(db, search="BOOT") == 4  # the step, whatever the case
    since, until = T0 + timedelta(minutes=30), T0 + timedelta(minutes=60)
    assert _total(db, since=since, until=until) == 3  # 3, 4, 5: until is exclusive
    assert _total(db, outcome=Outcome.FAIL, batch="line-2", operator="bob") == 1  # 6
    page = db.list_records(PageRequest(offset=1, limit=2), RecordFilter(outcome=Outcome.PASS))
    assert page.total == 8 and [r.mac[-2:] for r in page.items] == ["0a", "08"]  # newest first


def test_page_search_still_works_without_a_filter(db: RecordsDB) -> None:
    assert db.list_records(PageRequest(search="ttyUSB1")).total == 3


def test_bad_filters_are_refused_with_their_reason() -> None:
    with pytest.raises(ValidationError, match="date range is empty"):
        RecordFilter(since=T0, until=T0)
    with pytest.raises(ValidationError, match="no time zone"):
        RecordFilter(since=datetime(2025, 3, 1))
    with pytest.raises(ValidationError, match="longer than"):
        RecordFilter(batch="x" * 201)
    with pytest.raises(ValidationError, match="must be a date"):
        parse_moment("yesterday", "--since")
    with pytest.raises(ValidationError, match="pass, fail, cancelled"):
        parse_outcome("green")
    with pytest.raises(ValidationError, match="csv or json"):
        format_for(Path("x.csv"), "xlsx")


def test_dates_people_type() -> None:
    day_start = parse_moment("2025-03-01", "--since")
    day_end = parse_moment("2025-03-01", "--until", end_of_day=True)
    assert day_end - day_start == timedelta(days=1) and day_start.tzinfo is not None
    assert parse_moment("2025-03-01T14:30+00:00", "--since") == datetime(2025, 3, 1, 14, 30, tzinfo=UTC)
    assert parse_outcome(" FAIL ") is Outcome.FAIL
    assert format_for(Path("out.JSON")) is ExportFormat.JSON and format_for(Path("out")) is ExportFormat.CSV


def test_distinct_names_for_the_filter_lists(db: RecordsDB) -> None:
    assert db.distinct("batch") == ["line-1", "line-2"]
    assert db.distinct("operator") == ["alice", "bob"]
    with pytest.raises(ValueError, match="no filter choices"):
        db.distinct("error")
    assert db.last_id() == max(r.id for r in db.iterate())


def test_migration_from_version_3_keeps_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for script in records_module._MIGRATIONS[:3]:  # the schema as version 3 left it
        conn.executescript(script)
    conn.execute(
        "INSERT INTO records (at_ms, operator, station, port, mode, chip, mac, device_id, task, batch, "
        "outcome, duration_ms, error, push_state) VALUES (1740816000000, 'carol', 'bench', '/dev/ttyUSB0', "
        "'provision', 'ESP32', 'aa:bb:cc:00:00:01', '', 't', 'b', 'fail', 5000, 'flash failed', 'none')"
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()
    with RecordsDB(path) as db:
        (old,) = db.list_records().items
        assert (old.operator, old.error, old.step, old.step_log) == ("carol", "flash failed", "", ())
        assert db.list_records(PageRequest(), RecordFilter(operator="carol", outcome=Outcome.FAIL)).total == 1
        db.add(_record(1))
        assert db.list_records().total == 2
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"records_by_mac", "records_by_outcome", "records_by_batch"} <= indexes
    plan = conn.execute("EXPLAIN QUERY PLAN SELECT id FROM records WHERE mac = ?", ("x",)).fetchall()
    assert "records_by_mac" in str(plan)
    conn.close()


def test_csv_export_round_trip_with_a_filter(db: RecordsDB, tmp_path: Path) -> None:
    out = tmp_path / "failed.csv"
    assert db.export(out, ExportFormat.CSV, RecordFilter(outcome=Outcome.FAIL)) == 4
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert list(rows[0]) == list(CSV_COLUMNS)
    expected = list(db.iterate(RecordFilter(outcome=Outcome.FAIL)))
    assert [int(r["id"]) for r in rows] == [r.id for r in expected]
    first = rows[0]
    assert (first["outcome"], first["step"], first["error"]) == ("fail", "boot", expected[0].error)
    assert first["step_log"].splitlines()[1].endswith("detect passed: ESP32-C3")
    assert first["time"] == expected[0].at.isoformat(timespec="seconds")


def test_json_export_round_trip(db: RecordsDB, tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    assert db.export(out, ExportFormat.JSON) == 12
    exported = json.loads(out.read_text(encoding="utf-8"))
    stored = list(db.iterate())
    assert len(exported) == 12
    for item, record in zip(exported, stored, strict=True):
        assert (
            item["id"] == record.id and item["mac"] == record.mac and item["outcome"] == record.outcome.value
        )
        assert datetime.fromisoformat(item["time"]) == record.at
        assert item["duration_s"] == pytest.approx(record.duration_s)
        assert [(s["step"], s["status"], s["message"]) for s in item["step_log"]] == [
            (e.step, e.status, e.message) for e in record.step_log
        ]
    empty = tmp_path / "none.json"
    assert db.export(empty, ExportFormat.JSON, RecordFilter(batch="nothing")) == 0
    assert json.loads(empty.read_text(encoding="utf-8")) == []


def test_export_to_a_missing_folder(db: RecordsDB, tmp_path: Path) -> None:
    with pytest.raises(RecordsError, match="cannot write"):
        db.export(tmp_path / "no" / "such.json", ExportFormat.JSON)


def test_outcome_and_failure_counts(db: RecordsDB) -> None:
    counts = db.outcome_counts(RecordFilter(), 3600)
    assert sum(n for _, _, n in counts) == 12
    assert {bucket for bucket, _, _ in counts} == {
        int(T0.timestamp() * 1000) + h * 3_600_000 for h in range(2)
    }
    assert db.failure_counts(RecordFilter()) == [("boot", "the board printed nothing after reset", 4)]


# --- the step log ---------------------------------------------------------------------------------
def test_step_log_redacts_every_message_through_the_redactor() -> None:
    log = StepLog(Redactor(SECRET))
    log.add(T0, "ief", "error", f"the board refused the password {SECRET!r}")
    (entry,) = log.entries()
    assert SECRET not in entry.message and "********" in entry.message


def test_step_log_is_bounded_keeping_its_start_and_its_end() -> None:
    log = StepLog(Redactor(), max_entries=10, kept_from_start=3)
    for n in range(100):
        log.add(T0 + timedelta(seconds=n), "ief", "started", f"event {n} " + "x" * 1000)
    entries = log.entries()
    assert len(entries) == 10
    assert [e.message.split()[1] for e in entries[:3]] == ["0", "1", "2"]
    assert entries[3].status == SKIPPED and entries[3].message == "91 step event(s) not kept"
    assert entries[-1].message.startswith("event 99") and len(entries[-1].message) <= 400


def test_step_log_storage_round_trip_and_damage() -> None:
    entries = (StepLogEntry(T0, "flash", "passed", "3 images, 1.2 MB ✓"), StepLogEntry(T0, "boot", "failed"))
    assert decode(encode(entries)) == entries
    assert decode("") == () and encode(()) == ""
    assert decode("[[1, 2]]") == ()  # rows of the wrong shape are skipped
    (damaged,) = decode("{not json")
    assert damaged.status == "error" and "damaged" in damaged.message


# --- the search index -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    ["ttyUSB1", "printed nothing", "EE:0A", "aa:bb", f"{4:064x}", "o", "ie", 'say "hi"', "NEAR(a b)",
     "x OR y", "*", "100%_", "-", "ésp"],
)  # fmt: skip
def test_the_index_finds_exactly_what_a_full_scan_finds(db: RecordsDB, text: str) -> None:
    assert db.indexed, "this SQLite has FTS5 with the trigram tokenizer"
    indexed = [r.id for r in db.iterate(RecordFilter(search=text))]
    db.indexed = False  # what a station whose SQLite has no FTS5 does
    try:
        scanned = [r.id for r in db.iterate(RecordFilter(search=text))]
    finally:
        db.indexed = True
    assert indexed == scanned


def test_rows_written_by_any_writer_are_indexed_and_old_rows_after_an_update(tmp_path: Path) -> None:
    path = tmp_path / "r.sqlite3"
    conn = sqlite3.connect(path)
    for script in records_module._MIGRATIONS:  # a file migrated by a station that made no index
        conn.executescript(script)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute(
        "INSERT INTO records (at_ms, operator, station, port, mode, batch, outcome, duration_ms, "
        "push_state) VALUES (1, 'dave', 's', 'COM7', 'provision', 'b', 'pass', 1, 'none')"
    )
    conn.commit()
    conn.close()
    with RecordsDB(path) as db:
        assert db.indexed and db.list_records(PageRequest(search="com7")).total == 1
    conn = sqlite3.connect(path)
    conn.execute(
        "INSERT INTO records (at_ms, operator, station, port, mode, batch, outcome, duration_ms, "
        "push_state, error) VALUES (2, 'erin', 's', 'COM8', 'provision', 'b', 'fail', 1, 'none', 'brown-out')"
    )
    conn.commit()
    conn.close()
    with RecordsDB(path) as db:
        assert [r.operator for r in db.iterate(RecordFilter(search="BROWN-OUT"))] == ["erin"]


def test_a_list_without_step_logs_and_a_whole_record(db: RecordsDB) -> None:
    listed = db.list_records(PageRequest(limit=3), steps=False).items
    assert all(r.step_log == () for r in listed)
    whole = db.get(listed[0].id)
    assert whole is not None and len(whole.step_log) == 2 and whole.step == listed[0].step


def test_the_check_step_finds_a_board_by_its_mac_through_indexes(db: RecordsDB) -> None:
    conn = sqlite3.connect(db.path)
    try:
        for table, index in (("records", "records_by_mac"), ("journal", "journal_by_mac")):
            plan = conn.execute(f"EXPLAIN QUERY PLAN SELECT id FROM {table} WHERE mac = ?", ("x",)).fetchall()  # noqa: S608
            assert index in str(plan)
    finally:
        conn.close()


def test_iterating_in_pages_keeps_every_record_once_when_times_tie_across_a_page_edge(
    db: RecordsDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages start after the last record read (its time, then its id): records finished in the same
    millisecond on either side of a page's edge are neither skipped nor read twice."""
    for n in range(12, 19):
        db.add(_record(n, at=T0 + timedelta(minutes=35)))  # seven at one moment, between the others
    everything = [r.id for r in db.list_records(PageRequest(limit=100)).items]
    failed = [r.id for r in db.list_records(PageRequest(limit=100), RecordFilter(outcome=Outcome.FAIL)).items]
    for size in (1, 2, 3, 5, 100):
        monkeypatch.setattr(records_module, "ITERATE_PAGE", size)
        assert [r.id for r in db.iterate()] == everything, size
        assert [r.id for r in db.iterate(RecordFilter(outcome=Outcome.FAIL))] == failed, size
    assert len(everything) == 19 and len(set(everything)) == 19
