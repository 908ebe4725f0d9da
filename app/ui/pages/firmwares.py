"""Firmwares: the app builds batches update their devices to, with how many devices run each.

Firmware updates are carried out on a batch basis: a firmware is uploaded once (signed inside the
instance by the key chosen), then assigned to batches; their devices download it over the enrolment
connection. Everything is loaded and changed off the GUI thread.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMessageBox, QPushButton, QVBoxLayout

from app.domain.records import Firmware
from app.ui.models.formatting import plural, when
from app.ui.models.table_model import Column, RecordTableModel, sorting_proxy
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.firmwares_dialogs import AssignFirmwareDialog, UploadFirmwareDialog
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.record_view import RecordView
from app.workers.listing import Listing, collect

FIRMWARE_COLUMNS: tuple[Column[Firmware], ...] = (
    Column("Name", lambda f: f.name),
    Column("Version", lambda f: f.version),
    Column("Device type", lambda f: f.device_type.display_name),
    Column("Attributes", lambda f: ", ".join(f"{k}={v}" for k, v in f.attributes) or "—"),
    Column("Devices running it", lambda f: str(f.devices_running), sort_key=lambda f: f.devices_running),
    Column("Signing key", lambda f: f.signing_key, tooltip=lambda f: f"key digest {f.key_digest_hex}"),
    Column("Uploaded", lambda f: when(f.created_at), sort_key=lambda f: f.created_at),
)


class FirmwaresPage(Page):
    title = "Firmwares"
    icon = "firmwares"
    order = 25

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.listing: Listing[Firmware] | None = None
        self.confirmation: QMessageBox | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.upload_button = QPushButton("Upload firmware…")
        self.upload_button.setObjectName("primary")
        self.upload_button.clicked.connect(self.open_upload_dialog)
        layout.addWidget(
            PageHeader(
                "Firmwares",
                "App builds a batch's devices update to, signed by an instance key. Assign one to a batch; "
                "its devices download it when they next report their status.",
                self.upload_button,
            )
        )
        self.assign_button = QPushButton("Assign to batch…")
        self.assign_button.clicked.connect(self.open_assign_dialog)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.confirm_delete)
        self.count_label = QLabel("")
        self.count_label.setObjectName("hint")
        row = QHBoxLayout()
        row.addWidget(section_title("Firmwares"))
        row.addWidget(self.count_label, 1)
        row.addWidget(self.assign_button)
        row.addWidget(self.delete_button)
        layout.addLayout(row)
        self.model = RecordTableModel(FIRMWARE_COLUMNS, self)
        self.proxy = sorting_proxy(self.model, self)
        self.table = RecordView(self.proxy, widths=(180, 80, 100, 190, 130, 140))
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        layout.addWidget(self.table, 1)
        self._selection_changed()

    def refresh(self) -> None:
        self.call(lambda: collect(self.instance.list_firmwares), "Loading the firmwares", self._show)

    def _show(self, listing: Listing[Firmware]) -> None:
        selected = self.selected_firmware()
        self.listing = listing
        self.model.set_records(listing.items)
        running = sum(f.devices_running for f in listing.items)
        self.count_label.setText(
            f"{plural(listing.total, 'firmware')}, {plural(running, 'device')} running one"
        )
        if selected is not None:
            self.select_firmware(selected.name)
        self._selection_changed()

    def selected_firmware(self) -> Firmware | None:
        row = self.table.selected_source_row()
        return None if row is None else self.model.record(row)

    def select_firmware(self, name: str) -> bool:
        for row, firmware in enumerate(self.model.records()):
            if firmware.name == name:
                self.table.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())
                return True
        return False

    def _selection_changed(self) -> None:
        chosen = self.selected_firmware() is not None
        self.assign_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def open_upload_dialog(self) -> UploadFirmwareDialog:
        dialog = UploadFirmwareDialog(self, self.instance, self.context.attached.chips)
        dialog.uploaded.connect(
            lambda f: self._changed(f"Firmware {f.name!r} version {f.version} uploaded and signed", f.name)
        )
        dialog.open()
        return dialog

    def open_assign_dialog(self) -> AssignFirmwareDialog | None:
        firmware = self.selected_firmware()
        if firmware is None:
            return None
        dialog = AssignFirmwareDialog(self, self.instance, firmware)
        dialog.assigned.connect(
            lambda b: self._changed(
                f"Batch {b.name!r} now updates its devices to {b.firmware!r}", firmware.name
            )
        )
        dialog.open()
        return dialog

    def confirm_delete(self) -> QMessageBox | None:
        """Ask first, without blocking the window: the answer arrives through `finished`."""
        firmware = self.selected_firmware()
        if firmware is None:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete firmware",
            f"Delete the firmware {firmware.name!r} (version {firmware.version})? Devices already running "
            "it keep it; a batch that still uses it must be given another firmware first.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _result: self._delete_answered(firmware.name, box))
        self.confirmation = box
        box.open()
        return box

    def _delete_answered(self, name: str, box: QMessageBox) -> None:
        self.confirmation = None
        if box.clickedButton() == box.button(QMessageBox.StandardButton.Yes):
            self.call(
                lambda: self.instance.delete_firmware(name),
                f"Deleting the firmware {name!r}",
                lambda _none: self._changed(f"Firmware {name!r} deleted"),
            )

    def _changed(self, message: str, select: str | None = None) -> None:
        self.status.emit(message)
        self.call(
            lambda: collect(self.instance.list_firmwares),
            "Loading the firmwares",
            lambda listing: self._shown_then_select(listing, select),
        )

    def _shown_then_select(self, listing: Listing[Firmware], name: str | None) -> None:
        self._show(listing)
        if name is not None:
            self.select_firmware(name)
