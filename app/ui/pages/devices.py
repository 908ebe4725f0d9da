"""Devices: the instance's batches, and the devices of the selected batch.

The selected batch can get more devices (typed or from a file, the Create batch dialog in its "add"
form) or another policy, be exported (its DeviceIDs as a JSON batch file or CSV, written in the
background) and be deleted after a question; the instance refuses to delete a batch while any of its
devices is enrolled, and its reason reaches the error banner.

A selected device can be renewed (a new certificate under its batch's policy) or revoked (after a question
naming the device: the instance then refuses its enrolments); both run on the pool and update the device's
row in place, and the batch counts after them.

The batches table is small and sorted/searched locally. The devices table can hold a million rows, so
it is the virtual `PagedDeviceModel` (only visible pages load) and its search is a DeviceID prefix the
instance answers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.kinds import DeviceState
from app.domain.records import AddDevicesResult, Batch, DeviceCertificate
from app.instance.batch_export import ExportFormat, export_batch
from app.ui.models.device_pages import DeviceRow, PagedDeviceModel
from app.ui.models.formatting import count, day, plural
from app.ui.models.table_model import Column, RecordTableModel, sorting_proxy
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.devices_batch_dialog import CreateBatchDialog
from app.ui.pages.devices_policy_dialog import BatchPolicyDialog
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.record_view import RecordView
from app.workers.background import CallFailure
from app.workers.listing import Listing, collect

BATCH_COLUMNS: tuple[Column[Batch], ...] = (
    Column("Name", lambda b: b.name),
    Column("Devices", lambda b: count(b.counts.total), sort_key=lambda b: b.counts.total, align_right=True),
    Column(
        "Enrolled", lambda b: count(b.counts.enrolled), sort_key=lambda b: b.counts.enrolled, align_right=True
    ),
    Column(
        "Expired", lambda b: count(b.counts.expired), sort_key=lambda b: b.counts.expired, align_right=True
    ),
    Column(
        "Revoked", lambda b: count(b.counts.revoked), sort_key=lambda b: b.counts.revoked, align_right=True
    ),
    Column("Policy", lambda b: b.policy),
    Column("Created", lambda b: day(b.created_at), sort_key=lambda b: b.created_at),
)


class DevicesPage(Page):
    title = "Devices"
    icon = "devices"
    order = 10

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.listing: Listing[Batch] | None = None
        self._loading = False
        self._select_after_load: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.create_button = QPushButton("Create batch…")
        self.create_button.setObjectName("primary")
        self.create_button.clicked.connect(self.open_create_dialog)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.add_button = QPushButton("Add devices…")
        self.add_button.setToolTip("Add DeviceIDs (typed or from a JSON file) to the selected batch")
        self.add_button.clicked.connect(self.open_add_dialog)
        self.policy_button = QPushButton("Policy…")
        self.policy_button.setToolTip("Give the selected batch another policy")
        self.policy_button.clicked.connect(self.open_policy_dialog)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Write the selected batch's DeviceIDs to a JSON batch file or a CSV file"
        )
        self.export_button.clicked.connect(self.choose_export_file)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected batch and its devices (not while any is enrolled)")
        self.delete_button.clicked.connect(self.confirm_delete)
        self.confirmation: QMessageBox | None = None
        layout.addWidget(
            PageHeader(
                "Devices",
                "Batches of device identities; a board's DeviceID joins a batch when it is provisioned.",
                self.add_button,
                self.policy_button,
                self.export_button,
                self.delete_button,
                self.create_button,
                self.refresh_button,
            )
        )
        self.batch_model = RecordTableModel(BATCH_COLUMNS, self)
        self.batch_proxy = sorting_proxy(self.batch_model, self)
        self.batches = RecordView(self.batch_proxy, widths=(220, 100, 100, 100, 100, 120))
        self.batches.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.batches.selectionModel().selectionChanged.connect(self._batch_selected)
        self.batch_search = QLineEdit()
        self.batch_search.setPlaceholderText("Search batches…")
        self.batch_search.setMinimumWidth(220)
        self.batch_search.setClearButtonEnabled(True)
        self.batch_search.textChanged.connect(self.batch_proxy.setFilterFixedString)
        self.batch_count = QLabel("")
        self.batch_count.setObjectName("hint")

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(section_title("Batches"))
        row.addWidget(self.batch_count, 1)
        row.addWidget(self.batch_search)
        top_layout.addLayout(row)
        top_layout.addWidget(self.batches)

        self.device_model = PagedDeviceModel(self.instance, parent=self)
        self.device_model.error.connect(self.error)
        self.device_model.modelReset.connect(self._update_device_count)
        self.device_model.rowsInserted.connect(self._update_device_count)
        self.devices = RecordView(self.device_model, widths=(56, 300, 80, 150, 92, 76, 150), sortable=False)
        self.devices.selectionModel().selectionChanged.connect(self._device_selected)
        self.device_model.modelReset.connect(self._device_selected)
        self.device_model.page_loaded.connect(lambda _offset: self._device_selected())
        self.renew_button = QPushButton("Renew")
        self.renew_button.setToolTip("Give the selected device a new certificate under its batch's policy")
        self.renew_button.clicked.connect(self.renew_selected)
        self.revoke_button = QPushButton("Revoke…")
        self.revoke_button.setToolTip("Revoke the selected device: the instance refuses it from then on")
        self.revoke_button.clicked.connect(self.confirm_revoke)
        self.devices_title = section_title("Devices")
        self.device_count = QLabel("Select a batch to see its devices.")
        self.device_count.setObjectName("hint")
        self.device_search = QLineEdit()
        self.device_search.setPlaceholderText("DeviceID starts with…")
        self.device_search.setMinimumWidth(220)
        self.device_search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(self._search_devices)
        self.device_search.textChanged.connect(lambda _text: self._search_timer.start())

        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.devices_title)
        row.addWidget(self.device_count, 1)
        row.addWidget(self.renew_button)
        row.addWidget(self.revoke_button)
        row.addWidget(self.device_search)
        bottom_layout.addLayout(row)
        bottom_layout.addWidget(self.devices)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(bottom)
        splitter.setSizes([230, 470])
        layout.addWidget(splitter, 1)
        self._batch_selected()

    # --- batches ---------------------------------------------------------------------------------
    def refresh(self) -> None:
        if self._loading:
            return
        self._loading = True
        self.call(
            lambda: collect(self.instance.list_batches), "Loading the batches", self._show, self._failed
        )

    def _failed(self, _failure: CallFailure) -> None:
        self._loading = False

    def _show(self, listing: Listing[Batch]) -> None:
        self._loading = False
        keep = self._select_after_load or self.selected_batch()
        self._select_after_load = None
        self.listing = listing
        self.batch_model.set_records(listing.items)
        shown = plural(listing.total, "batch")
        if listing.truncated:
            shown = f"{count(len(listing.items))} of {shown}"
        self.batch_count.setText(shown)
        if keep is not None:
            self.select_batch(keep)

    def selected_batch(self) -> str | None:
        row = self.batches.selected_source_row()
        return None if row is None else self.batch_model.record(row).name

    def select_batch(self, name: str) -> bool:
        for row, batch in enumerate(self.batch_model.records()):
            if batch.name == name:
                index = self.batch_proxy.mapFromSource(self.batch_model.index(row, 0))
                flags = (
                    QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
                )
                self.batches.selectionModel().select(index, flags)
                self.batches.scrollTo(index)
                return True
        return False

    def _batch_selected(self) -> None:
        name = self.selected_batch()
        for button in (self.add_button, self.policy_button, self.export_button, self.delete_button):
            button.setEnabled(name is not None)
        if name != self.device_model.batch:
            self.devices_title.setText(f"Devices in {name}" if name else "Devices")
            self.device_model.set_batch(name, self.device_search.text())
            self._update_device_count()
        elif name is not None:
            self.device_model.reload()

    # --- devices ---------------------------------------------------------------------------------
    def _search_devices(self) -> None:
        if self.device_model.batch is not None:
            self.device_model.set_batch(self.device_model.batch, self.device_search.text())

    def _update_device_count(self) -> None:
        if self.device_model.batch is None:
            self.device_count.setText("Select a batch to see its devices.")
        elif not self.device_model.total_known:
            self.device_count.setText("loading…")
        else:
            search = self.device_search.text().strip()
            matching = f" starting with {search}" if search else ""
            self.device_count.setText(f"{plural(self.device_model.rowCount(), 'device')}{matching}")

    # --- renew and revoke one device ------------------------------------------------------------
    def selected_device(self) -> tuple[int, DeviceRow] | None:
        row = self.devices.selected_source_row()
        shown = None if row is None else self.device_model.device_row(row)
        return None if row is None or shown is None else (row, shown)

    def select_device(self, row: int) -> None:
        self.devices.selectRow(row)

    def _device_selected(self) -> None:
        selected = self.selected_device()
        state = None if selected is None else selected[1].state
        enrolled = selected is not None and selected[1].certificate is not None
        self.renew_button.setEnabled(enrolled and state is not DeviceState.REVOKED)
        self.revoke_button.setEnabled(selected is not None and state is not DeviceState.REVOKED)

    def renew_selected(self) -> None:
        selected = self.selected_device()
        if selected is None:
            return
        row, shown = selected
        device_id = shown.device.device_id
        instance = self.instance

        def renewed(certificate: DeviceCertificate) -> None:
            self._show_device(row, DeviceRow(replace(shown.device, state=certificate.state), certificate))
            until = certificate.not_after.date().isoformat()
            serial = certificate.serial_hex[:16]
            self.status.emit(f"Device {device_id[:12]}… renewed: certificate {serial}…, valid until {until}")

        self._lifecycle_call(
            lambda: instance.renew_device(device_id), f"Renewing device {device_id[:12]}…", renewed
        )

    def confirm_revoke(self) -> QMessageBox | None:
        """Ask first, naming the device (without blocking the window); Revoke is never the default."""
        selected = self.selected_device()
        if selected is None:
            return None
        row, shown = selected
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Revoke device",
            f"Revoke the device {shown.device.device_id}?\n\nThe instance will refuse its enrolments and "
            "renewals from then on; it comes back only when a person moves it to a batch again.",
            QMessageBox.StandardButton.Cancel,
            self,
        )
        revoke = box.addButton("Revoke", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _result: self._revoke_answered(row, shown, box, revoke))
        self.confirmation = box
        box.open()
        return box

    def _revoke_answered(self, row: int, shown: DeviceRow, box: QMessageBox, revoke: QPushButton) -> None:
        self.confirmation = None
        if box.clickedButton() is not revoke:
            return
        device_id = shown.device.device_id
        instance = self.instance

        def work() -> DeviceCertificate | None:
            instance.set_device_state([device_id], DeviceState.REVOKED)
            return instance.device_certificate(device_id)

        def revoked(certificate: DeviceCertificate | None) -> None:
            self._show_device(row, DeviceRow(replace(shown.device, state=DeviceState.REVOKED), certificate))
            self.status.emit(f"Device {device_id[:12]}… revoked: it can no longer enrol")

        self._lifecycle_call(work, f"Revoking device {device_id[:12]}…", revoked)

    def _lifecycle_call(self, work: Callable[[], Any], what: str, done: Callable[[Any], None]) -> None:
        for button in (self.renew_button, self.revoke_button):
            button.setEnabled(False)
        self.call(work, what, done, lambda _failure: self._device_selected())

    def _show_device(self, row: int, updated: DeviceRow) -> None:
        if not self.device_model.replace_row(row, updated):
            self.device_model.reload()
        self._device_selected()
        self.refresh()  # the batch's counts moved

    # --- create ----------------------------------------------------------------------------------
    def open_create_dialog(self) -> CreateBatchDialog:
        dialog = CreateBatchDialog(self, self.instance)
        dialog.created.connect(self._created)
        dialog.open()
        return dialog

    def _created(self, batch: Batch, result: AddDevicesResult | None) -> None:
        added = result.added if result else 0
        skipped = (result.duplicates_in_input + result.already_present) if result else 0
        note = f", {count(skipped)} skipped as duplicates" if skipped else ""
        self.status.emit(f"Batch {batch.name!r} created with {plural(added, 'device')}{note}")
        self._select_after_load = batch.name
        self.refresh()

    # --- add, export, delete ---------------------------------------------------------------------
    def open_add_dialog(self) -> CreateBatchDialog | None:
        name = self.selected_batch()
        if name is None:
            return None
        dialog = CreateBatchDialog(self, self.instance, batch=name)
        dialog.created.connect(self._added)
        dialog.open()
        return dialog

    def _added(self, batch: Batch, result: AddDevicesResult | None) -> None:
        added = result.added if result else 0
        skipped = (result.duplicates_in_input + result.already_present) if result else 0
        note = f", {count(skipped)} skipped as duplicates or already in a batch" if skipped else ""
        self.status.emit(f"{plural(added, 'device')} added to {batch.name!r}{note}")
        self._select_after_load = batch.name
        self.refresh()
        self.device_model.reload()

    def open_policy_dialog(self) -> BatchPolicyDialog | None:
        row = self.batches.selected_source_row()
        if row is None:
            return None
        dialog = BatchPolicyDialog(self, self.instance, self.batch_model.record(row))
        dialog.changed.connect(self._policy_changed)
        dialog.open()
        return dialog

    def _policy_changed(self, batch: Batch) -> None:
        self.status.emit(f"Batch {batch.name!r} now has the policy {batch.policy!r}")
        self._select_after_load = batch.name
        self.refresh()

    def choose_export_file(self) -> None:
        name = self.selected_batch()
        if name is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export {name}", f"{name}.json", "Batch file (*.json);;CSV (*.csv)"
        )
        if path:
            self.export_to(name, Path(path))

    def export_to(self, batch: str, path: Path) -> None:
        """Write in the background (a million IDs take a few seconds); say where when done."""
        instance = self.instance
        fmt = ExportFormat.for_path(path)
        self.export_button.setEnabled(False)

        def done(written: int) -> None:
            self.export_button.setEnabled(self.selected_batch() is not None)
            self.status.emit(
                f"Wrote {plural(written, 'DeviceID')} of {batch!r} to {path} ({fmt.value.upper()})"
            )

        def failed(_failure: CallFailure) -> None:
            self.export_button.setEnabled(self.selected_batch() is not None)

        self.call(lambda: export_batch(instance, batch, path, fmt), f"Exporting {batch}", done, failed)

    def confirm_delete(self) -> QMessageBox | None:
        """Ask first (without blocking the window); the instance has the last word on enrolled devices."""
        row = self.batches.selected_source_row()
        if row is None:
            return None
        batch = self.batch_model.record(row)
        live = batch.counts.enrolled + batch.counts.renewed
        text = f"Delete the batch {batch.name!r} and its {plural(batch.counts.total, 'device')}?"
        if live:
            text += (
                f"\n\n{plural(live, 'device')} of it {'are' if live != 1 else 'is'} enrolled: "
                "the instance will refuse until they are moved to another batch (re-enrol) or revoked."
            )
        else:
            text += " Their DeviceIDs can be exported first (Export…)."
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete batch",
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _result: self._delete_answered(batch.name, box))
        self.confirmation = box
        box.open()
        return box

    def _delete_answered(self, name: str, box: QMessageBox) -> None:
        self.confirmation = None
        if box.clickedButton() != box.button(QMessageBox.StandardButton.Yes):
            return

        def deleted(_none: None) -> None:
            self.status.emit(f"Batch {name!r} deleted")
            self.refresh()

        instance = self.instance
        self.call(lambda: instance.delete_batch(name), f"Deleting the batch {name!r}", deleted)
