"""The instance activity log as a table that loads older entries as the view scrolls down.

Newest first, a page per request as the view scrolls (app/ui/models/newest_first.py). The search text
goes to the instance (`PageRequest.search`), so searching a long log does not mean loading it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Qt

from app.domain.records import ActivityEntry, Page, PageRequest
from app.instance.api import Instance
from app.ui.models.formatting import when
from app.ui.models.newest_first import NewestFirstPagedModel
from app.ui.models.table_model import Index

HEADERS = ("When", "Who", "Action", "Target", "Details")


class PagedActivityModel(NewestFirstPagedModel[ActivityEntry]):
    headers = HEADERS
    loading_what = "Loading the activity log"

    def __init__(self, instance: Instance, page_size: int = 200, parent: QObject | None = None) -> None:
        super().__init__(page_size, parent)
        self._instance = instance
        self._search = ""

    def reload(self, search: str | None = None) -> None:
        if search is not None:
            self._search = search.strip()
        self._restart()

    def entry(self, row: int) -> ActivityEntry:
        return self.item(row)

    def _page_call(self, request: PageRequest) -> Callable[[], Page[ActivityEntry]]:
        request, instance = replace(request, search=self._search), self._instance
        return lambda: instance.list_activity(request)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        entry = self._items[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            values = (when(entry.at), entry.actor, entry.action, entry.target, entry.details)
            return values[index.column()]
        return None
