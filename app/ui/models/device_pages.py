"""A batch's devices as a virtual table: a million rows, only the visible pages ever loaded.

`rowCount()` is the batch's device count from the first page's `total`; `data()` for a row whose page
is not cached returns a placeholder and asks for that page (offset = row rounded down to the page
size). The instance answers any offset as cheaply as the first, so scrolling to row 999,800 costs one
request, not 5,000 (`canFetchMore` paging would have to load everything above it).

Requests run on the thread pool, at most `max_in_flight` at a time; the newest wish is served first and
only the last `max_queued` wishes are kept, so dragging the scroll bar across a million rows loads the
pages where it stops, not every page it passed. Pages live in a small LRU cache.

The view sits on this model directly, without a QSortFilterProxyModel: a proxy maps every source row
(and would read every row to sort or filter), which is exactly what a million-row table cannot afford.
Searching is a DeviceID prefix sent to the instance instead.

Each page is two calls made together on the pool: the devices, then the certificates of just those
devices (`device_certificates`): a page costs the same however many of its devices enrolled, never a
call per device. A page whose certificates cannot be had (a mirror offline without them) still shows
its devices, with the certificate columns empty.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, Qt, Signal
from PySide6.QtGui import QColor

from app.domain.errors import InstanceUnavailableError
from app.domain.kinds import DeviceState
from app.domain.records import Device, DeviceCertificate, Page, PageRequest
from app.instance.api import Instance
from app.ui.models.formatting import day, fixed_font, when
from app.ui.models.table_model import ROOT, HeaderedTableModel, Index
from app.ui.style import current_theme, tone
from app.workers.background import CallFailure, start_call

HEADERS = ("#", "DeviceID", "State", "Certificate serial", "Valid until", "Firmware", "Last seen", "Added")
STATE_COLUMN = 2
PLACEHOLDER = "loading…"
NOT_ENROLLED = "—"
STATE_TONES = {DeviceState.ENROLLED: "ok", DeviceState.REVOKED: "down", DeviceState.EXPIRED: "degraded"}
RENEWED_COLOURS = {"light": "#1565c0", "dark": "#7fb3f0"}


def state_colour(state: DeviceState) -> QColor | None:
    """A state's text colour in the theme now applied (readable on the dark theme's table too)."""
    if state is DeviceState.RENEWED:
        return QColor(RENEWED_COLOURS[current_theme()])
    name = STATE_TONES.get(state)
    return QColor(tone(name)) if name is not None else None


@dataclass(frozen=True)
class DeviceRow:
    """A device and, once it has enrolled, its certificate; the certificate's state is the newer word."""

    device: Device
    certificate: DeviceCertificate | None = None

    @property
    def state(self) -> DeviceState:
        return self.certificate.state if self.certificate is not None else self.device.state

    def texts(self, number: int) -> tuple[str, ...]:
        c = self.certificate
        lifecycle = (
            (c.serial_hex, day(c.not_after), c.firmware or "not reported", when(c.enrolled_at))
            if c is not None
            else (NOT_ENROLLED,) * 4
        )
        return (
            f"{number:,}",
            self.device.device_id,
            self.state.value,
            *lifecycle,
            when(self.device.added_at),
        )


def load_rows(instance: Instance, batch: str, request: PageRequest) -> Page[DeviceRow]:
    """A page of devices with their certificates: two calls to the instance, whatever the page holds."""
    page = instance.list_devices(batch, request)
    certificates: Sequence[DeviceCertificate] = ()
    if page.items:
        try:
            certificates = instance.device_certificates([d.device_id for d in page.items])
        except InstanceUnavailableError:
            certificates = ()  # the devices are still worth showing
    by_id = {c.device_id: c for c in certificates}
    rows = tuple(DeviceRow(d, by_id.get(d.device_id)) for d in page.items)
    return Page(items=rows, total=page.total, offset=page.offset)


class PagedDeviceModel(HeaderedTableModel):
    headers = HEADERS
    error = Signal(object)  # CallFailure
    page_loaded = Signal(int)  # the offset of a page that arrived

    def __init__(
        self,
        instance: Instance,
        page_size: int = 200,
        cache_pages: int = 64,
        max_in_flight: int = 2,
        max_queued: int = 6,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._instance = instance
        self.page_size = page_size
        self._cache_pages = cache_pages
        self._max_in_flight = max_in_flight
        self._max_queued = max_queued
        self._batch: str | None = None
        self._search = ""
        self._total = 0
        self._known = False
        self._generation = 0
        self._pages: OrderedDict[int, tuple[DeviceRow, ...]] = OrderedDict()
        self._in_flight: set[int] = set()
        self._queue: deque[int] = deque()
        self._failed: set[int] = set()

    @property
    def batch(self) -> str | None:
        return self._batch

    @property
    def total_known(self) -> bool:
        """True once the first page said how many devices match."""
        return self._known

    def set_batch(self, batch: str | None, search: str = "") -> None:
        """Show `batch` (None: nothing); `search` keeps IDs starting with those hex digits."""
        self._batch = batch
        self._search = search.strip()
        self.reload()

    def reload(self) -> None:
        """Forget every cached page and start again from the first (after states changed, say)."""
        self._generation += 1
        self.beginResetModel()
        self._pages.clear()
        self._in_flight.clear()
        self._queue.clear()
        self._failed.clear()
        self._total = 0
        self._known = False
        self.endResetModel()
        if self._batch is not None:
            self._want(0)

    def cached_pages(self) -> list[int]:
        return list(self._pages)

    def device(self, row: int) -> Device | None:
        """The device at `row` if its page is loaded."""
        found = self.device_row(row)
        return None if found is None else found.device

    def device_row(self, row: int) -> DeviceRow | None:
        """The device and its certificate at `row` if its page is loaded."""
        page = self._pages.get(row - row % self.page_size)
        if page is None:
            return None
        position = row % self.page_size
        return page[position] if position < len(page) else None

    def replace_row(self, row: int, updated: DeviceRow) -> bool:
        """Show a device's new state and certificate (after a renew or revoke) without reloading its page;
        False when the row is no longer where it was (its page was dropped, or the batch changed)."""
        offset = row - row % self.page_size
        page = self._pages.get(offset)
        position = row - offset
        if (
            page is None
            or position >= len(page)
            or page[position].device.device_id != updated.device.device_id
        ):
            return False
        self._pages[offset] = (*page[:position], updated, *page[position + 1 :])
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))
        return True

    # --- Qt model interface ---------------------------------------------------------------------
    def rowCount(self, parent: Index = ROOT) -> int:
        return 0 if parent.isValid() else self._total

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        offset = row - row % self.page_size
        page = self._pages.get(offset)
        if page is None:
            if role == Qt.ItemDataRole.DisplayRole:
                self._want(offset)
                return f"{row + 1:,}" if column == 0 else (PLACEHOLDER if column == 1 else "")
            return None
        self._pages.move_to_end(offset)
        position = row - offset
        if position >= len(page):
            return None
        shown = page[position]
        if role == Qt.ItemDataRole.DisplayRole:
            return shown.texts(row + 1)[column]
        if role == Qt.ItemDataRole.FontRole and column in (1, 3):
            return fixed_font()
        if role == Qt.ItemDataRole.ToolTipRole and column in (1, 3):
            return shown.texts(row + 1)[column]  # a DeviceID or serial cut short by its column
        if role == Qt.ItemDataRole.ForegroundRole and column == STATE_COLUMN:
            return state_colour(shown.state)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 0:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    # --- loading --------------------------------------------------------------------------------
    def _want(self, offset: int) -> None:
        if offset in self._in_flight or offset in self._failed or offset in self._pages:
            return
        if offset in self._queue:
            self._queue.remove(offset)
        self._queue.append(offset)
        while len(self._queue) > self._max_queued:
            self._queue.popleft()
        self._pump()

    def _pump(self) -> None:
        while self._queue and len(self._in_flight) < self._max_in_flight:
            offset = self._queue.pop()
            self._in_flight.add(offset)
            self._request(offset)

    def _request(self, offset: int) -> None:
        batch, generation = self._batch, self._generation
        assert batch is not None
        request = PageRequest(offset=offset, limit=self.page_size, search=self._search)
        instance = self._instance
        start_call(
            lambda: load_rows(instance, batch, request),
            f"Loading the devices of batch {batch!r}",
            lambda page: self._arrived(generation, offset, page),
            lambda failure: self._failed_page(generation, offset, failure),
            owner=self,
        )

    def _failed_page(self, generation: int, offset: int, failure: CallFailure) -> None:
        if generation != self._generation:
            return
        self._in_flight.discard(offset)
        self._failed.add(offset)
        if len(self._failed) == 1:
            self.error.emit(failure)  # once per batch shown, not once per page
        self._pump()

    def _arrived(self, generation: int, offset: int, page: Page[DeviceRow]) -> None:
        if generation != self._generation:
            return
        self._in_flight.discard(offset)
        self._pages[offset] = page.items
        while len(self._pages) > self._cache_pages:
            self._pages.popitem(last=False)
        self._resize(page.total)
        last = min(offset + len(page.items), self._total) - 1
        if last >= offset:
            self.dataChanged.emit(self.index(offset, 0), self.index(last, len(HEADERS) - 1))
        self.page_loaded.emit(offset)
        self._pump()

    def _resize(self, total: int) -> None:
        if not self._known or total < self._total:
            self.beginResetModel()
            self._total = total
            self._known = True
            self.endResetModel()
        elif total > self._total:
            self.beginInsertRows(QModelIndex(), self._total, total - 1)
            self._total = total
            self.endInsertRows()
