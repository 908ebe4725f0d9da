"""Provisioning records as a table that loads the next page as the view scrolls down.

Like the activity log (app/ui/models/activity_log.py): newest first, `page_size` records per request
through `canFetchMore`/`fetchMore`, each request on the thread pool, so a station with 100,000 records
shows its first page at once and never holds more rows than the person scrolled to. The filter goes
to the records file (`RecordFilter`), so filtering does not mean loading. Records written after the
first page are skipped by id, so a page that shifted under a new record never shows a row twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QColor

from app.domain.records import Page, PageRequest
from app.provisioning.events import Outcome
from app.provisioning.record_query import EVERY_RECORD, RecordFilter
from app.provisioning.records import ProvisioningRecord
from app.ui.models.formatting import fixed_font, when
from app.ui.models.table_model import ROOT, HeaderedTableModel, Index
from app.workers.background import CallFailure, start_call

HEADERS = ("When", "Result", "Step", "Port", "Reason", "Batch", "Task", "Operator", "Time", "MAC", "DeviceID")
REASON_COLUMN = 4
OUTCOME_COLOURS = {Outcome.PASS: "#2e7d32", Outcome.FAIL: "#c62828", Outcome.CANCELLED: "#8d6e00"}
MONOSPACE_COLUMNS = (9, 10)
RECORD_ROLE = Qt.ItemDataRole.UserRole + 2

Fetch = Callable[[PageRequest, RecordFilter], Page[ProvisioningRecord]]


def result_text(record: ProvisioningRecord) -> str:
    return record.outcome.value.upper()


def _cells(record: ProvisioningRecord) -> tuple[str, ...]:
    return (
        when(record.at),
        result_text(record),
        record.step or "—",
        record.port,
        record.error.splitlines()[0] if record.error else "",
        record.batch,
        record.task or ("re-enrol" if record.mode == "reenrol" else "—"),
        record.operator,
        f"{record.duration_s:.1f} s",
        record.mac or "—",
        record.device_id or "—",
    )


class PagedRecordsModel(HeaderedTableModel):
    headers = HEADERS
    error = Signal(object)  # CallFailure
    loaded = Signal()  # a page arrived (the page's count line and the tests wait on it)

    def __init__(self, fetch: Fetch, page_size: int = 200, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fetch = fetch
        self._page_size = page_size
        self._records: list[ProvisioningRecord] = []
        self._total: int | None = None
        self._filter = EVERY_RECORD
        self._generation = 0
        self._loading = False
        self._next_offset = 0

    @property
    def total(self) -> int | None:
        """How many records match the filter, once the first page has arrived."""
        return self._total

    @property
    def record_filter(self) -> RecordFilter:
        return self._filter

    @property
    def loading(self) -> bool:
        return self._loading

    def reload(self, record_filter: RecordFilter | None = None) -> None:
        if record_filter is not None:
            self._filter = record_filter
        self._generation += 1
        self.beginResetModel()
        self._records = []
        self._total = None
        self._next_offset = 0
        self.endResetModel()
        self._loading = False
        self._request(0)

    def record(self, row: int) -> ProvisioningRecord:
        return self._records[row]

    def newest_id(self) -> int:
        return self._records[0].id if self._records else 0

    def canFetchMore(self, parent: Index = ROOT) -> bool:
        if parent.isValid() or self._loading or self._total is None:
            return False
        return self._next_offset < self._total

    def fetchMore(self, parent: Index = ROOT) -> None:
        if self.canFetchMore(parent):
            self._request(self._next_offset)

    def _request(self, offset: int) -> None:
        self._loading = True
        generation = self._generation
        request = PageRequest(offset=offset, limit=self._page_size)
        where, fetch = self._filter, self._fetch
        start_call(
            lambda: fetch(request, where),
            "Loading the provisioning records",
            lambda page: self._arrived(generation, page),
            lambda failure: self._failed(generation, failure),
            owner=self,
        )

    def _failed(self, generation: int, failure: CallFailure) -> None:
        if generation == self._generation:
            self._loading = False
            self.error.emit(failure)

    def _arrived(self, generation: int, page: Page[ProvisioningRecord]) -> None:
        if generation != self._generation:
            return
        self._loading = False
        oldest = self._records[-1].id if self._records else None
        fresh = [r for r in page.items if oldest is None or r.id < oldest]
        self._next_offset = page.offset + len(page.items)
        self._total = page.total if page.items else self._next_offset
        if fresh:
            first = len(self._records)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._records.extend(fresh)
            self.endInsertRows()
        self.loaded.emit()

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._records)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._records[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _cells(record)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return record.error if column == REASON_COLUMN and record.error else _cells(record)[column]
        if role == RECORD_ROLE:
            return record
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            return QColor(OUTCOME_COLOURS[record.outcome])
        if role == Qt.ItemDataRole.FontRole and column in MONOSPACE_COLUMNS:
            return fixed_font()
        return None
