"""A log-like table, newest first, that loads older rows as the view scrolls down.

`page_size` rows per request, through `canFetchMore`/`fetchMore` (qutebrowser's history model): the
view asks for more only when its last row comes into sight, and the request runs on the thread pool.
Rows logged after the first page are skipped by id, so a page that shifted under a new row never shows
a row twice. Subclasses say what a page is (`_page_call`: the search or filter goes to the source, so
searching a long log does not mean loading it) and how a row looks (`data`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from PySide6.QtCore import QModelIndex, QObject, Signal

from app.domain.records import Page, PageRequest
from app.ui.models.table_model import ROOT, HeaderedTableModel, Index
from app.workers.background import CallFailure, start_call


class _Logged(Protocol):
    @property
    def id(self) -> int: ...


T = TypeVar("T", bound=_Logged)


class NewestFirstPagedModel(HeaderedTableModel, Generic[T]):
    error = Signal(object)  # CallFailure
    loaded = Signal()  # a page arrived (pages' count lines and the tests wait on it)
    loading_what = "Loading"  # what the status line says while a page is on its way

    def __init__(self, page_size: int = 200, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._page_size = page_size
        self._items: list[T] = []
        self._total: int | None = None
        self._generation = 0
        self._loading = False
        self._next_offset = 0

    def _page_call(self, request: PageRequest) -> Callable[[], Page[T]]:
        """The function that fetches `request` on the pool, with the current search or filter bound."""
        raise NotImplementedError

    @property
    def total(self) -> int | None:
        """How many rows match the search or filter, once the first page has arrived."""
        return self._total

    @property
    def loading(self) -> bool:
        return self._loading

    def _restart(self) -> None:
        """Forget every row and ask for the first page again (a new search, filter or refresh)."""
        self._generation += 1
        self.beginResetModel()
        self._items = []
        self._total = None
        self._next_offset = 0
        self.endResetModel()
        self._loading = False
        self._request(0)

    def item(self, row: int) -> T:
        return self._items[row]

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
        call = self._page_call(PageRequest(offset=offset, limit=self._page_size))
        start_call(
            call,
            self.loading_what,
            lambda page: self._arrived(generation, page),
            lambda failure: self._failed(generation, failure),
            owner=self,
        )

    def _failed(self, generation: int, failure: CallFailure) -> None:
        if generation == self._generation:
            self._loading = False
            self.error.emit(failure)

    def _arrived(self, generation: int, page: Page[T]) -> None:
        if generation != self._generation:
            return
        self._loading = False
        oldest = self._items[-1].id if self._items else None
        fresh = [item for item in page.items if oldest is None or item.id < oldest]
        self._next_offset = page.offset + len(page.items)
        self._total = page.total if page.items else self._next_offset
        if fresh:
            first = len(self._items)
            self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
            self._items.extend(fresh)
            self.endInsertRows()
        self.loaded.emit()

    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else len(self._items)
