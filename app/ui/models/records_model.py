"""Provisioning records as a table that loads the next page as the view scrolls down.

Newest first, a page per request as the view scrolls (app/ui/models/newest_first.py), so a station with
100,000 records shows its first page at once and never holds more rows than the person scrolled to.
The filter goes to the records file (`RecordFilter`), so filtering does not mean loading.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor

from app.domain.records import Page, PageRequest
from app.provisioning.events import Outcome
from app.provisioning.record_query import EVERY_RECORD, RecordFilter
from app.provisioning.records import ProvisioningRecord
from app.ui.models.formatting import fixed_font, when
from app.ui.models.newest_first import NewestFirstPagedModel
from app.ui.models.table_model import Index
from app.ui.style import DEGRADED

HEADERS = ("When", "Result", "Step", "Port", "Reason", "Batch", "Task", "Operator", "Time", "MAC", "DeviceID")
REASON_COLUMN = 4
OUTCOME_COLOURS = {Outcome.PASS: "#2e7d32", Outcome.FAIL: "#c62828", Outcome.CANCELLED: "#8d6e00"}
WARNING_COLOUR = DEGRADED  # a pass with a warning: amber, as its tile was
MONOSPACE_COLUMNS = (9, 10)
RECORD_ROLE = Qt.ItemDataRole.UserRole + 2

Fetch = Callable[[PageRequest, RecordFilter], Page[ProvisioningRecord]]


def result_text(record: ProvisioningRecord) -> str:
    """PASS, FAIL, CANCELLED; a pass with a warning says so, as its Station tile did."""
    word = record.outcome.value.upper()
    return f"{word} (WARNING)" if record.warning and record.outcome is Outcome.PASS else word


def result_colour(record: ProvisioningRecord) -> str:
    return (
        WARNING_COLOUR
        if record.warning and record.outcome is Outcome.PASS
        else OUTCOME_COLOURS[record.outcome]
    )


def reason_text(record: ProvisioningRecord) -> str:
    """Why it failed, or why its pass is not plain ('' for a plain pass)."""
    return record.error or record.warning


def _cells(record: ProvisioningRecord) -> tuple[str, ...]:
    return (
        when(record.at),
        result_text(record),
        record.step or "—",
        record.port,
        reason_text(record).splitlines()[0] if reason_text(record) else "",
        record.batch,
        record.task or ("re-enrol" if record.mode == "reenrol" else "—"),
        record.operator,
        f"{record.duration_s:.1f} s",
        record.mac or "—",
        record.device_id or "—",
    )


class PagedRecordsModel(NewestFirstPagedModel[ProvisioningRecord]):
    headers = HEADERS
    loading_what = "Loading the provisioning records"

    def __init__(self, fetch: Fetch, page_size: int = 200, parent: QObject | None = None) -> None:
        super().__init__(page_size, parent)
        self._fetch = fetch
        self._filter = EVERY_RECORD

    @property
    def record_filter(self) -> RecordFilter:
        return self._filter

    def reload(self, record_filter: RecordFilter | None = None) -> None:
        if record_filter is not None:
            self._filter = record_filter
        self._restart()

    def record(self, row: int) -> ProvisioningRecord:
        return self.item(row)

    def newest_id(self) -> int:
        return self._items[0].id if self._items else 0

    def _page_call(self, request: PageRequest) -> Callable[[], Page[ProvisioningRecord]]:
        where, fetch = self._filter, self._fetch
        return lambda: fetch(request, where)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self._items[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return _cells(record)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                reason_text(record)
                if column == REASON_COLUMN and reason_text(record)
                else _cells(record)[column]
            )
        if role == RECORD_ROLE:
            return record
        if role == Qt.ItemDataRole.ForegroundRole and column == 1:
            return QColor(result_colour(record))
        if role == Qt.ItemDataRole.FontRole and column in MONOSPACE_COLUMNS:
            return fixed_font()
        return None
