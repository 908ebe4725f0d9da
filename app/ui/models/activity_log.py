"""The instance activity log as a table that loads older entries as the view scrolls down.

Newest first, `page_size` entries per request, through `canFetchMore`/`fetchMore` (qutebrowser's history
model): the view asks for more only when its last row comes into sight, and the request runs on the
thread pool. The search text goes to the instance (`PageRequest.search`), so searching a long log does
not mean loading it. Entries logged after the first page are skipped by id, so a page that shifted
under a new entry never shows a row twice.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal

from app.domain.records import ActivityEntry, Page, PageRequest
from app.instance.api import Instance
from app.ui.models.formatting import when
from app.ui.models.table_model import ROOT, HeaderedTableModel, Index
from app.workers.background import CallFailure, start_call

HEADERS = ("When", "Who", "Action", "Target", "Details")


class PagedActivityModel(HeaderedTableModel):
    headers = HEADERS
    error = Signal(object)  # CallFailure
    loaded = Signal()  # a page arrived (tests and the page's row counter wait on it)

    def __init__(self, instance: Instance, page_size: int = 200, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._instance = instance
        self._page_size = page_size
        self._entries: list[ActivityEntry] = []
        self._total: int | None = None
        self._search = ""
        self._generation = 0
        self._loading = False
        self._next_offset = 0

    @property
    def total(self) -> int | None:
        """How many entries match the search, once the first page has arrived."""
        return self._total

    def reload(self, search: str | None = None) -> None:
        if search is not None:
            self._search = search.strip()
        self._generation += 1
        self.beginResetModel()
        self._entries = []
        self._total = None
        self._next_offset = 0
        self.endResetModel()
        self._loading = False
        self._request(0)

    def entry(self, row: int) -> ActivityEntry:
        return self._entries[row]

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
        request = PageRequest(offset=offset, limit=self._page_size, search=self._search)
        start_call(
            lambda: self._instance.list_activity(request),
            "Loading the activity log",
            lambda page: self._arrived(generation, page),
            lambda failure: self._failed(generation, failure),
            owner=self,
        )

    def _failed(self, generation: int, failure: CallFailure) -> None:
        if generation == self._generation:
            self._loading = False
            self.error.emit(failure)

    def _arrived(self, generation: int, page: Page[ActivityEntry]) -> None:
        if generation != self._generation:
            return
        self._loading = False
        oldest = self._entries[-1].id if self._entries else None
        fresh = [e for e in page.items if oldest is None or e.id < oldest]
        self._next_offset = page.offset + len(page.items)
        self._total = page.total if page.items else self._next_offset
        if fresh:
            first = len(self._entries)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._entries.extend(fresh)
            self.endInsertRows()
        self.loaded.emit()

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._entries)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self._entries[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            values = (when(entry.at), entry.actor, entry.action, entry.target, entry.details)
            return values[index.column()]
        return None
