"""Records: every board this station worked on, from its records file, surviving restarts.

The table pages lazily from the records file (app/ui/models/records_model.py) with the filter row's
`RecordFilter`, so 100,000 records cost one page to show and a filter is one query, all on the thread
pool. A selected record shows in full beside the table, its step log included, with "Re-enrol this
board…" (the window hands that to the Station page, which runs it). Export writes every record that
matches the filter, as CSV or JSON, in the background.

While the page is visible it looks for new records every few seconds (one cheap query): when the
person is at the top of the table and has nothing selected, new boards appear at once; otherwise the
count line says how many are new and Refresh shows them, so rows never move under the person's mouse.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout

from app.domain.records import Page as RecordsPageSlice
from app.domain.records import PageRequest
from app.provisioning.events import Outcome
from app.provisioning.record_export import format_for
from app.provisioning.record_query import RecordFilter
from app.provisioning.records import ProvisioningRecord
from app.ui.models.formatting import count
from app.ui.models.records_model import PagedRecordsModel
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.records_detail import RecordDetail
from app.ui.pages.records_filters import RecordFilters
from app.ui.widgets.page_header import PageHeader
from app.ui.widgets.record_view import RecordView
from app.workers.records_file import RecordsFile

POLL_MS = 3_000
COLUMN_WIDTHS = (140, 124, 46, 120, 300, 70, 70, 70, 60, 130)  # Result fits "PASS (WARNING)"
EXPORT_FILTERS = "CSV for spreadsheets (*.csv);;JSON (*.json)"


class RecordsPage(Page):
    title = "Records"
    icon = "records"
    order = 62  # after the Station page (60)
    refresh_interval_ms = POLL_MS
    reenrol_requested = Signal(str, str)  # port, batch: the window hands it to the Station page

    def __init__(self, context: PageContext, page_size: int = 200) -> None:
        super().__init__(context)
        self.records = RecordsFile(context.data_dir)
        self.new_since_load = 0
        self._last_id = -1  # the records file's last id at the last look (-1: not looked yet)
        self._checking = False
        self._closed = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write every record the filter matches to a CSV or JSON file")
        self.export_button.clicked.connect(self.choose_export_file)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.reload)
        layout.addWidget(
            PageHeader(
                "Records",
                "Every board this station worked on: who, when, which board, what happened, step by step.",
                self.export_button,
                self.refresh_button,
            )
        )
        self.filters = RecordFilters()
        self.filters.changed.connect(self.reload)
        layout.addWidget(self.filters)
        self.count_label = QLabel("Loading…")
        self.count_label.setObjectName("hint")
        layout.addWidget(self.count_label)
        self.model = PagedRecordsModel(self._fetch, page_size=page_size, parent=self)
        self.model.error.connect(self.error)
        self.model.loaded.connect(self._loaded)
        self.table = RecordView(self.model, widths=COLUMN_WIDTHS, sortable=False)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.detail = RecordDetail()
        self.detail.reenrol_requested.connect(self.reenrol_requested)
        self.detail.copied.connect(self.status)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([640, 420])
        splitter.setChildrenCollapsible(False)
        body = QHBoxLayout()
        body.addWidget(splitter)
        layout.addLayout(body, 1)
        self.loaded_once = False

    # --- loading ---------------------------------------------------------------------------------
    def _fetch(self, request: PageRequest, where: RecordFilter) -> RecordsPageSlice[ProvisioningRecord]:
        return self.records.db().list_records(request, where, steps=False)  # on a pool thread

    def refresh(self) -> None:
        """On show and every few seconds while shown: load once, then only look for new records."""
        if self._closed:
            return
        if not self.loaded_once:
            self.reload()
        else:
            self._check_for_new()

    def reload(self, _filter: object = None) -> None:
        if self._closed:
            return
        self.loaded_once = True
        self.new_since_load = 0
        self.count_label.setText("Loading…")
        self.detail.show_record(None)
        self.model.reload(self.filters.current())
        self.call(self._choices, "Reading the records' batches, tasks and operators", self._show_choices)

    def _choices(self) -> tuple[list[str], list[str], list[str]]:
        db = self.records.db()
        return db.distinct("batch"), db.distinct("task"), db.distinct("operator")

    def _show_choices(self, choices: tuple[list[str], list[str], list[str]]) -> None:
        self.filters.set_choices(*choices)

    def _check_for_new(self) -> None:
        if self._checking or self.model.loading or self.model.total is None:
            return
        self._checking = True
        where = self.model.record_filter
        newest = self.model.newest_id()
        seen = self._last_id

        def newer() -> tuple[int, int | None]:
            """The file's last record id, and (only when a record was added since) the filter's count:
            one cheap query every few seconds while nothing happens."""
            db = self.records.db()
            last = db.last_id()
            return last, (db.list_records(PageRequest(limit=1), where).total if last != seen else None)

        def counted(answer: tuple[int, int | None]) -> None:
            self._checking = False
            self._last_id, total = answer
            known = self.model.total or 0
            if total is None or total == known or self._closed:
                return
            at_top = self.table.verticalScrollBar().value() == 0
            if at_top and not self.table.selectionModel().hasSelection() and newest == self.model.newest_id():
                self.reload()
            else:
                self.new_since_load = total - known
                self._show_count()

        self.call(newer, "Looking for new records", counted, lambda _failure: self._stop_checking())

    def _stop_checking(self) -> None:
        self._checking = False

    def _loaded(self) -> None:
        self._show_count()

    def _show_count(self) -> None:
        total = self.model.total or 0
        described = self.model.record_filter.describe()
        text = f"{count(total)} record{'s' if total != 1 else ''}"
        text += f" {described}" if described else " in all"
        shown = self.model.rowCount()
        if shown < total:
            text += f" · {count(shown)} loaded (scroll for more)"
        if self.new_since_load > 0:
            text += f" · {count(self.new_since_load)} new: press Refresh"
        self.count_label.setText(text)

    def _selected(self) -> None:
        """The listed record at once; its step log (not part of a listed page) follows from the file."""
        row = self.table.selected_source_row()
        listed = self.model.record(row) if row is not None else None
        self.detail.show_record(listed)
        if listed is not None:
            self.call(lambda: self.records.db().get(listed.id), "Reading the record's step log", self._whole)

    def _whole(self, record: ProvisioningRecord | None) -> None:
        shown = self.detail.record
        if record is not None and shown is not None and shown.id == record.id:
            self.detail.show_record(record)

    def select_row(self, row: int) -> None:
        self.table.selectRow(row)

    # --- export ----------------------------------------------------------------------------------
    def choose_export_file(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(self, "Export records", "records.csv", EXPORT_FILTERS)
        if path:
            as_json = "json" in chosen.lower() and not path.lower().endswith(".csv")
            self.export(Path(path), "json" if as_json else None)

    def export(self, path: Path, fmt: str | None = None) -> None:
        """Write every record the current filter matches to `path` (CSV, or JSON by name), in the
        background."""
        where = self.model.record_filter
        chosen = format_for(path, fmt)
        self.export_button.setEnabled(False)
        matching = self.model.total
        if matching:
            self.status.emit(f"Exporting {count(matching)} record(s) to {path}…")

        def done(written: int) -> None:
            self.export_button.setEnabled(True)
            self.status.emit(f"Exported {count(written)} record(s) to {path} ({chosen.value.upper()})")

        self.call(
            lambda: self.records.db().export(path, chosen, where),
            "Exporting the records",
            done,
            lambda _failure: self.export_button.setEnabled(True),
        )

    # --- counts for the tests and the status --------------------------------------------------------
    def outcomes_shown(self) -> list[Outcome]:
        return [self.model.record(row).outcome for row in range(self.model.rowCount())]

    def shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._timer.stop()
        self.records.close()
