"""The Records and Throughput pages on a real records file: paging, filters, step log, export, charts."""

from __future__ import annotations

import csv
import json
import random
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.provisioning.events import Outcome
from app.provisioning.record_query import RecordFilter
from app.provisioning.records import RecordsDB
from app.system.paths import DataDir
from app.ui.models.records_model import HEADERS, OUTCOME_COLOURS, REASON_COLUMN, WARNING_COLOUR
from app.ui.pages.context import PageContext
from app.ui.pages.records import RecordsPage
from app.ui.pages.records_filters import BETWEEN
from app.ui.pages.throughput import ThroughputPage
from benchmarks.records_fill import fill, make_record
from tests.ui.pool_drain import WAIT_MS, drain_pool

BOARDS = 300


@pytest.fixture
def filled(context: PageContext) -> Path:
    path = DataDir(context.data_dir).ensure().records_db
    fill(path, BOARDS, hours=6)
    return path


@pytest.fixture
def records_page(qtbot: QtBot, context: PageContext, filled: Path) -> Iterator[RecordsPage]:
    page = RecordsPage(context, page_size=50)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    qtbot.waitUntil(lambda: page.model.total == BOARDS, timeout=WAIT_MS)
    yield page
    page.shutdown()
    drain_pool()


def _expected(path: Path, where: RecordFilter) -> int:
    with RecordsDB(path) as db:
        return db.list_records(where=where).total


def test_pages_lazily_and_loads_more_as_the_view_scrolls(qtbot: QtBot, records_page: RecordsPage) -> None:
    model = records_page.model
    assert model.rowCount() == 50, "only the first page is loaded"
    assert "300 records in all · 50 loaded" in records_page.count_label.text()
    records_page.table.scrollToBottom()
    qtbot.waitUntil(lambda: model.rowCount() >= 100, timeout=WAIT_MS)
    ats = [model.record(row).at for row in range(model.rowCount())]
    assert ats == sorted(ats, reverse=True), "newest first, no row twice"
    assert len({model.record(row).id for row in range(model.rowCount())}) == model.rowCount()


def test_filters_go_to_the_records_file(qtbot: QtBot, records_page: RecordsPage, filled: Path) -> None:
    filters = records_page.filters
    qtbot.waitUntil(lambda: filters.batch.count() == 2 and filters.operator.count() == 3, timeout=WAIT_MS)
    failed = _expected(filled, RecordFilter(outcome=Outcome.FAIL))
    assert 0 < failed < BOARDS
    with qtbot.waitSignal(records_page.model.loaded, timeout=WAIT_MS):
        filters.outcome.setCurrentIndex(filters.outcome.findData("fail"))
    assert records_page.model.total == failed
    assert set(records_page.outcomes_shown()) == {Outcome.FAIL}
    assert f"{failed} records outcome fail" in records_page.count_label.text()

    with qtbot.waitSignal(records_page.model.loaded, timeout=WAIT_MS):
        filters.operator.setCurrentIndex(filters.operator.findData("bob"))
    assert records_page.model.total == _expected(filled, RecordFilter(outcome=Outcome.FAIL, operator="bob"))

    with qtbot.waitSignal(records_page.model.loaded, timeout=WAIT_MS):
        qtbot.keyClicks(filters.search, "strapping")  # the search waits for a pause in the typing
    expected = _expected(filled, RecordFilter(outcome=Outcome.FAIL, operator="bob", search="strapping"))
    assert records_page.model.total == expected
    assert all(
        "strapping" in records_page.model.record(r).error for r in range(records_page.model.rowCount())
    )

    filters.search.clear()
    filters.operator.setCurrentIndex(0)
    with qtbot.waitSignal(records_page.model.loaded, timeout=WAIT_MS):
        filters.outcome.setCurrentIndex(0)
    assert records_page.model.total == BOARDS
    with qtbot.waitSignal(records_page.model.loaded, timeout=WAIT_MS):
        filters.period.setCurrentIndex(BETWEEN)  # the last seven days to today, the whole shift
    assert filters.date_from.isVisible() and records_page.model.total == BOARDS
    with qtbot.waitSignal(records_page.model.loaded, timeout=WAIT_MS):
        filters.date_to.setDate(filters.date_from.date().addDays(-30))  # before every record
    assert records_page.model.total == 0 and records_page.model.rowCount() == 0


def test_a_selected_record_shows_its_steps_and_can_be_re_enrolled(
    qtbot: QtBot, records_page: RecordsPage
) -> None:
    detail = records_page.detail
    assert not detail.reenrol_button.isEnabled()
    model = records_page.model
    row = next(r for r in range(model.rowCount()) if model.record(r).outcome is Outcome.FAIL)
    record = model.record(row)
    records_page.select_row(row)
    assert detail.record == record and record.step_log == (), "a listed page leaves the step logs out"
    qtbot.waitUntil(lambda: bool(detail.step_lines()), timeout=WAIT_MS)
    assert detail.record is not None and detail.record.id == record.id
    record = detail.record
    assert detail.headline.text() == f"FAIL · {record.port}"
    assert detail.values["Ended at step"].text() == record.step
    lines = detail.step_lines()
    assert len(lines) == len(record.step_log) and any(" failed " in line for line in lines)
    assert record.error in detail.reason.text()
    with qtbot.waitSignal(records_page.reenrol_requested, timeout=WAIT_MS) as asked:
        qtbot.mouseClick(detail.reenrol_button, Qt.MouseButton.LeftButton)
    assert asked.args == [record.port, record.batch]


@pytest.mark.parametrize("name", ["failed.csv", "failed.json"])
def test_export_writes_what_the_filter_matches(
    qtbot: QtBot, records_page: RecordsPage, filled: Path, tmp_path: Path, name: str
) -> None:
    filters = records_page.filters
    with qtbot.waitSignal(records_page.model.loaded, timeout=WAIT_MS):
        filters.outcome.setCurrentIndex(filters.outcome.findData("fail"))
    out = tmp_path / name
    statuses: list[str] = []
    records_page.status.connect(statuses.append)
    with qtbot.waitSignal(
        records_page.status, timeout=WAIT_MS, check_params_cb=lambda text: text.startswith("Exported")
    ) as said:
        records_page.export(out)
    failed = _expected(filled, RecordFilter(outcome=Outcome.FAIL))
    assert statuses[0] == f"Exporting {failed} record(s) to {out}…", "the person sees it started"
    assert f"Exported {failed} record(s) to {out}" in said.args[0]
    if name.endswith(".csv"):
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
    else:
        rows = json.loads(out.read_text(encoding="utf-8"))
    assert len(rows) == failed and {r["outcome"] for r in rows} == {"fail"}
    assert records_page.export_button.isEnabled()


def test_an_export_that_cannot_be_written_says_why(
    qtbot: QtBot, records_page: RecordsPage, tmp_path: Path
) -> None:
    with qtbot.waitSignal(records_page.error, timeout=WAIT_MS) as failed:
        records_page.export(tmp_path / "missing" / "x.csv")
    assert "cannot write" in failed.args[0].message
    assert records_page.export_button.isEnabled()


def test_new_records_appear_while_the_page_is_shown(
    qtbot: QtBot, records_page: RecordsPage, filled: Path
) -> None:
    with RecordsDB(filled) as db:
        db.add(make_record(BOARDS, datetime.now(UTC), random.Random(1)))
    records_page.refresh()  # what the page's timer calls every few seconds
    qtbot.waitUntil(lambda: records_page.model.total == BOARDS + 1, timeout=WAIT_MS)
    records_page.select_row(3)  # the person is reading a record: rows must not move under them
    chosen = records_page.detail.record
    with RecordsDB(filled) as db:
        db.add(make_record(BOARDS + 1, datetime.now(UTC), random.Random(2)))
    records_page.refresh()
    qtbot.waitUntil(lambda: "1 new: press Refresh" in records_page.count_label.text(), timeout=WAIT_MS)
    assert records_page.model.total == BOARDS + 1 and records_page.detail.record.id == chosen.id  # type: ignore[union-attr]
    with qtbot.waitSignal(records_page.model.loaded, timeout=WAIT_MS):
        qtbot.mouseClick(records_page.refresh_button, Qt.MouseButton.LeftButton)
    assert records_page.model.total == BOARDS + 2 and "new" not in records_page.count_label.text()


def test_empty_records(qtbot: QtBot, context: PageContext) -> None:
    page = RecordsPage(context)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.model.total == 0, timeout=WAIT_MS)
    assert page.count_label.text() == "0 records in all"
    page.shutdown()
    drain_pool()


def test_throughput_page_counts_the_shift(qtbot: QtBot, context: PageContext, filled: Path) -> None:
    page = ThroughputPage(context)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    qtbot.waitUntil(lambda: page.figures is not None, timeout=WAIT_MS)
    figures = page.figures
    assert figures is not None
    shift = figures.throughput
    assert shift.boards == BOARDS
    assert page.panels["Boards"].value.text() == f"{BOARDS}"
    assert page.panels["Failed"].value.text() == str(_expected(filled, RecordFilter(outcome=Outcome.FAIL)))
    assert page.panels["Yield"].value.text().endswith("%")
    assert len(shift.buckets) in (8, 9)  # hours of an 8-hour window, cut at whole hours
    labels = page.pareto_labels()
    assert labels and len(labels) == len(figures.pareto)
    assert sum(bar.count for bar in figures.pareto) == shift.failed
    assert "ief: the board could not join WiFi" in "\n".join(labels)
    page.shutdown()
    drain_pool()


def test_reading_the_filters_keeps_none_alive(records_page: RecordsPage) -> None:
    """PySide6 6.12's `QComboBox.currentData()` drops a reference to None when an item's data is None;
    the filter row must not hold such items, or enough filter changes abort the interpreter."""
    filters = records_page.filters
    before = sys.getrefcount(None)
    for _ in range(500):
        filters.current()
    assert sys.getrefcount(None) > before - 100


def test_a_pass_with_a_warning_is_amber_says_why_and_has_its_own_filter(
    qtbot: QtBot, context: PageContext, filled: Path
) -> None:
    """As its Station tile was: PASS (WARNING) in amber, the warning where a failure's reason goes."""
    offline = "enrolment not confirmed: offline (DeviceID queued)"
    with RecordsDB(filled) as db:
        db.add(replace(make_record(BOARDS, datetime.now(UTC), random.Random(3)), warning=offline))
    page = RecordsPage(context, page_size=50)
    qtbot.addWidget(page)
    page.resize(1200, 700)
    page.show()
    try:
        qtbot.waitUntil(lambda: page.model.total == BOARDS + 1, timeout=WAIT_MS)
        model = page.model
        assert model.record(0).warning == offline, "the newest record is the warned one"
        cells = [model.index(0, column).data() for column in range(len(HEADERS))]
        assert cells[1] == "PASS (WARNING)" and cells[REASON_COLUMN] == offline
        colour = model.index(0, 1).data(Qt.ItemDataRole.ForegroundRole)
        assert colour.name() == WARNING_COLOUR.lower() != OUTCOME_COLOURS[Outcome.PASS]
        page.select_row(0)
        assert page.detail.headline.text().startswith("PASS (WARNING)")
        assert page.detail.reason.text() == f"Warning: {offline}"

        filters = page.filters
        with qtbot.waitSignal(model.loaded, timeout=WAIT_MS):
            filters.outcome.setCurrentIndex(filters.outcome.findText("Warning"))
        assert model.total == 1 and model.record(0).warning == offline
        assert "passed with a warning" in page.count_label.text()
    finally:
        page.shutdown()
        drain_pool()
