"""Outbox: the DeviceIDs this station owes the instance, and the refused ones waiting for a decision.

Queued entries go by themselves when the instance is back (the station's pusher retries with backoff);
"Send now" does not wait for the next retry. A refused push is never dropped: it stays under "Needs
attention" until a person moves the device into its batch, sends it to another batch, or discards it
with a reason. The journal lives in the records file; this page opens it on a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from app.domain.paging import iterate_pages
from app.provisioning.device_journal import AttentionAction, JournalEntry, JournalState
from app.provisioning.device_push import FlushReport, flush_outbox, log_discard
from app.ui.models.formatting import count, when
from app.ui.models.table_model import Column, RecordTableModel, sorting_proxy
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.record_view import RecordView
from app.workers.records_file import RecordsFile

WIDTHS = (60, 500, 140, 150, 50)  # a DeviceID's 64 hex digits fit whole
LISTED = 2000  # rows a table shows; the counts above them cover every entry

COLUMNS: tuple[Column[JournalEntry], ...] = (
    Column("Entry", lambda e: str(e.id), sort_key=lambda e: e.id, align_right=True),
    Column("DeviceID", lambda e: e.device_id, monospace=True),
    Column("Batch", lambda e: e.batch + (" (move)" if e.move else "")),
    Column("Since", lambda e: when(e.received_at), sort_key=lambda e: e.received_at),
    Column("Tries", lambda e: str(e.attempts), sort_key=lambda e: e.attempts, align_right=True),
    Column("Reason", lambda e: e.reason or "-", tooltip=lambda e: e.reason),
)


@dataclass(frozen=True)
class OutboxView:
    queued: tuple[JournalEntry, ...]
    queued_total: int
    attention: tuple[JournalEntry, ...]
    attention_total: int


class OutboxPage(Page):
    title = "Outbox"
    icon = "outbox"
    order = 65
    refresh_interval_ms = 5000

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.records = RecordsFile(context.data_dir)
        self.batch_dialog: QInputDialog | None = None
        self.discard_dialog: QInputDialog | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.send_button = QPushButton("Send now")
        self.send_button.setObjectName("primary")
        self.send_button.clicked.connect(self.send_now)
        layout.addWidget(
            PageHeader(
                "Outbox",
                "DeviceIDs this station owes the instance. They are sent by themselves when it can be "
                "reached; refused ones wait here for your decision.",
                self.send_button,
            )
        )
        self.summary = QLabel("")
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

        self.queued_model = RecordTableModel(COLUMNS, self)
        self.queued_view = RecordView(sorting_proxy(self.queued_model, self), widths=WIDTHS)
        self.queued_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.queued_count = QLabel("")
        self.queued_count.setObjectName("hint")
        row = QHBoxLayout()
        row.addWidget(section_title("Queued for the instance"))
        row.addWidget(self.queued_count, 1)
        layout.addLayout(row)
        layout.addWidget(self.queued_view, 2)

        self.attention_model = RecordTableModel(COLUMNS, self)
        self.attention_proxy = sorting_proxy(self.attention_model, self)
        self.attention_view = RecordView(self.attention_proxy, widths=WIDTHS)
        self.attention_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.attention_view.setWordWrap(True)
        self.attention_count = QLabel("")
        self.attention_count.setObjectName("hint")
        self.move_button = QPushButton("Move into its batch")
        self.move_button.setToolTip("Push it again; the device leaves the batch it is in now")
        self.move_button.clicked.connect(self.move_selected)
        self.rebatch_button = QPushButton("Put in another batch…")
        self.rebatch_button.clicked.connect(self.open_batch_dialog)
        self.discard_button = QPushButton("Discard…")
        self.discard_button.clicked.connect(self.open_discard_dialog)
        self.action_buttons = (self.move_button, self.rebatch_button, self.discard_button)
        row = QHBoxLayout()
        row.addWidget(section_title("Needs attention"))
        row.addWidget(self.attention_count, 1)
        for button in self.action_buttons:
            button.setEnabled(False)
            row.addWidget(button)
        layout.addLayout(row)
        layout.addWidget(self.attention_view, 1)
        self.attention_view.selectionModel().selectionChanged.connect(self._selection_changed)

    # --- the records file, on worker threads only -----------------------------------------------------
    def _load(self) -> OutboxView:
        journal = self.records.db().journal
        return OutboxView(
            queued=tuple(journal.owed(limit=LISTED)),
            queued_total=journal.count(JournalState.JOURNALED, JournalState.QUEUED),
            attention=tuple(journal.needs_attention(limit=LISTED)),
            attention_total=journal.count_needing_attention(),
        )

    def shutdown(self) -> None:
        self.records.close()

    # --- showing ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.call(self._load, "Reading the outbox", self._show)

    def _show(self, view: OutboxView) -> None:
        self.queued_model.set_records(view.queued)
        selected = self.selected_entry()
        self.attention_model.set_records(view.attention)
        if selected is not None:
            self._select(selected.id)
        self.queued_count.setText(_count_text(view.queued_total, len(view.queued), "DeviceID"))
        self.attention_count.setText(_count_text(view.attention_total, len(view.attention), "DeviceID"))
        if not view.queued_total and not view.attention_total:
            self.summary.setText("The instance has every DeviceID this station received.")
        else:
            waiting, deciding = count(view.queued_total), count(view.attention_total)
            self.summary.setText(f"{waiting} waiting to be sent · {deciding} need a decision")
        self._selection_changed()

    def selected_entry(self) -> JournalEntry | None:
        row = self.attention_view.selected_source_row()
        return None if row is None else self.attention_model.record(row)

    def _select(self, entry_id: int) -> None:
        for row, entry in enumerate(self.attention_model.records()):
            if entry.id == entry_id:
                index = self.attention_proxy.mapFromSource(self.attention_model.index(row, 0))
                self.attention_view.selectRow(index.row())
                return

    def _selection_changed(self) -> None:
        chosen = self.selected_entry() is not None
        for button in self.action_buttons:
            button.setEnabled(chosen)

    # --- acting ----------------------------------------------------------------------------------
    def send_now(self) -> None:
        self.send_button.setEnabled(False)
        self.call(
            lambda: flush_outbox(self.instance, self.records.db().journal),
            "Sending the outbox",
            self._sent,
            lambda _failure: self.send_button.setEnabled(True),
        )

    def _sent(self, report: FlushReport) -> None:
        self.send_button.setEnabled(True)
        text = f"Outbox: {report.pushed} sent, {report.refused} refused, {report.still_queued} still queued"
        if report.unreachable:
            text += f" — {report.unreachable}"
        self.status.emit(text)
        self.refresh()

    def move_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self._act(entry, AttentionAction.MOVE)

    def open_batch_dialog(self) -> QInputDialog | None:
        entry = self.selected_entry()
        if entry is None:
            return None
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Put in another batch")
        dialog.setLabelText(f"The batch DeviceID {entry.device_id[:16]}… should go to:")
        dialog.setComboBoxEditable(True)
        dialog.setOkButtonText("Queue it")
        dialog.textValueSelected.connect(lambda batch: self._act(entry, AttentionAction.REBATCH, batch=batch))
        self.batch_dialog = dialog
        self.call(
            lambda: [b.name for b in iterate_pages(self.instance.list_batches)],
            "Loading the batches",
            lambda names: dialog.setComboBoxItems([n for n in names if n != entry.batch]),
            lambda _failure: None,  # offline: the person types the name
        )
        dialog.open()
        return dialog

    def open_discard_dialog(self) -> QInputDialog | None:
        entry = self.selected_entry()
        if entry is None:
            return None
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Discard a DeviceID")
        dialog.setLabelText(
            f"DeviceID {entry.device_id[:16]}… will not reach any batch, so its board cannot enrol.\n"
            "Why? (kept with the entry)"
        )
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setOkButtonText("Discard")
        dialog.textValueSelected.connect(
            lambda reason: self._act(entry, AttentionAction.DISCARD, reason=reason)
        )
        self.discard_dialog = dialog
        dialog.open()
        return dialog

    def _act(
        self, entry: JournalEntry, action: AttentionAction, *, batch: str = "", reason: str = ""
    ) -> None:
        operator = self.context.info.actor

        def decide() -> JournalEntry | None:
            journal = self.records.db().journal
            if action is AttentionAction.DISCARD:
                log_discard(self.instance, journal, entry.id, reason)
            return journal.act(entry.id, action, batch=batch, reason=reason, operator=operator)

        def done(successor: JournalEntry | None) -> None:
            if successor is None:
                self.status.emit(f"DeviceID {entry.device_id[:16]}… discarded")
            else:
                self.status.emit(f"DeviceID {entry.device_id[:16]}… queued for batch {successor.batch!r}")
                self.send_now()
            self.refresh()

        self.call(decide, f"Recording your decision on entry {entry.id}", done)


def _count_text(total: int, shown: int, noun: str) -> str:
    plural = noun if total == 1 else f"{noun}s"
    if shown < total:
        return f"{count(total)} {plural} (the oldest {count(shown)} shown)"
    return f"{count(total)} {plural}"
