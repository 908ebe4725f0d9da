"""Provisioning: the instance's tasks (create, edit, delete), importing images, and starting a run.

"Start provisioning…" collects the WiFi network, batch and task and emits a `RunRequest`;
the main window hands it to the Station page, where the person picks the ports.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QVBoxLayout

from app.domain.records import FirmwareImage, ProvisioningTask
from app.provisioning.run_request import RunRequest
from app.ui.models.formatting import plural, when
from app.ui.models.table_model import Column, RecordTableModel, sorting_proxy
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.pages.provisioning_image_dialog import ImportImageDialog
from app.ui.pages.provisioning_start_dialog import StartProvisioningDialog
from app.ui.pages.provisioning_task_dialog import BOOTLOADER_LABELS, IEF_LABELS, CreateTaskDialog
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.record_view import RecordView
from app.workers.listing import Listing, collect


def _images(task: ProvisioningTask) -> str:
    return f"{task.bootloader_image}, {task.partition_table_image}, {task.ief_image}"


TASK_COLUMNS: tuple[Column[ProvisioningTask], ...] = (
    Column("Name", lambda t: t.name),
    Column("Device", lambda t: t.device_type.display_name),
    Column("Bootloader", lambda t: t.bootloader.value, tooltip=lambda t: BOOTLOADER_LABELS[t.bootloader]),
    Column("IEF", lambda t: t.ief.value, tooltip=lambda t: IEF_LABELS[t.ief]),
    Column("Signing key", lambda t: t.signing_key),
    Column("Created", lambda t: when(t.created_at), sort_key=lambda t: t.created_at),
    Column("Images", _images, tooltip=lambda t: _images(t).replace(", ", "\n")),
)


class ProvisioningPage(Page):
    title = "Provisioning"
    icon = "provisioning"
    order = 30
    provisioning_requested = Signal(object)  # RunRequest, for the Station page

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.listing: Listing[ProvisioningTask] | None = None
        self.last_request: RunRequest | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.create_button = QPushButton("Create task…")
        self.create_button.clicked.connect(self.open_create_dialog)
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setToolTip("Change what the selected task flashes")
        self.edit_button.clicked.connect(self.open_edit_dialog)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.setToolTip("Delete the selected task")
        self.delete_button.clicked.connect(self.confirm_delete)
        self.import_button = QPushButton("Import image…")
        self.import_button.setToolTip("Add your own bootloader, partition table or IEF (.bin or Intel HEX)")
        self.import_button.clicked.connect(self.open_import_dialog)
        self.confirmation: QMessageBox | None = None
        self.start_button = QPushButton("Start provisioning…")
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.open_start_dialog)
        layout.addWidget(
            PageHeader(
                "Provisioning",
                "A task says what to flash: chip, bootloader, IEF and the key that signs them.",
                self.import_button,
                self.edit_button,
                self.delete_button,
                self.create_button,
                self.start_button,
            )
        )
        self.model = RecordTableModel(TASK_COLUMNS, self)
        self.proxy = sorting_proxy(self.model, self)
        self.tasks = RecordView(self.proxy, widths=(180, 90, 90, 90, 150, 150))
        self.tasks.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.tasks.selectionModel().selectionChanged.connect(self._task_selected)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search tasks…")
        self.search.setMinimumWidth(220)
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.setFilterFixedString)
        self.count_label = QLabel("")
        self.count_label.setObjectName("hint")
        row = QHBoxLayout()
        row.addWidget(section_title("Tasks"))
        row.addWidget(self.count_label, 1)
        row.addWidget(self.search)
        layout.addLayout(row)
        layout.addWidget(self.tasks, 1)
        self._task_selected()

    def refresh(self) -> None:
        self.call(lambda: collect(self.instance.list_tasks), "Loading the tasks", self._show)

    def _show(self, listing: Listing[ProvisioningTask]) -> None:
        self.listing = listing
        self.model.set_records(listing.items)
        self.count_label.setText(plural(listing.total, "task"))

    def _task_selected(self) -> None:
        chosen = self.selected_task() is not None
        self.edit_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)

    def select_task(self, name: str) -> bool:
        for row, task in enumerate(self.model.records()):
            if task.name == name:
                self.tasks.selectRow(self.proxy.mapFromSource(self.model.index(row, 0)).row())
                return True
        return False

    def selected_task(self) -> str | None:
        row = self.tasks.selected_source_row()
        return None if row is None else self.model.record(row).name

    def open_create_dialog(self) -> CreateTaskDialog:
        dialog = CreateTaskDialog(self, self.instance, self.context.attached.chips)
        dialog.created.connect(self._task_created)
        dialog.open()
        return dialog

    def _task_created(self, task: ProvisioningTask) -> None:
        self.status.emit(f"Task {task.name!r} created")
        self.refresh()

    def open_start_dialog(self) -> StartProvisioningDialog:
        dialog = StartProvisioningDialog(
            self,
            self.instance,
            self.context.keyring,
            task=self.selected_task(),
            last=self.context.chosen.request,
        )
        dialog.requested.connect(self._requested)
        dialog.open()
        return dialog

    def _requested(self, request: RunRequest) -> None:
        self.last_request = request
        self.provisioning_requested.emit(request)

    # --- edit, delete, import --------------------------------------------------------------------
    def open_edit_dialog(self) -> CreateTaskDialog | None:
        row = self.tasks.selected_source_row()
        if row is None:
            return None
        task = self.model.record(row)
        dialog = CreateTaskDialog(self, self.instance, self.context.attached.chips, task=task)
        dialog.created.connect(lambda saved: self._changed(f"Task {saved.name!r} saved"))
        dialog.open()
        return dialog

    def confirm_delete(self) -> QMessageBox | None:
        name = self.selected_task()
        if name is None:
            return None
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Delete task",
            f"Delete the task {name!r}? Boards provisioned with it keep what they were given.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(lambda _result: self._delete_answered(name, box))
        self.confirmation = box
        box.open()
        return box

    def _delete_answered(self, name: str, box: QMessageBox) -> None:
        self.confirmation = None
        if box.clickedButton() != box.button(QMessageBox.StandardButton.Yes):
            return
        instance = self.instance
        self.call(
            lambda: instance.delete_task(name),
            f"Deleting the task {name!r}",
            lambda _none: self._changed(f"Task {name!r} deleted"),
        )

    def open_import_dialog(self) -> ImportImageDialog:
        dialog = ImportImageDialog(self, self.instance, self.context.attached.chips)
        dialog.imported.connect(self._imported)
        dialog.open()
        return dialog

    def _imported(self, image: FirmwareImage) -> None:
        self.status.emit(
            f"Image {image.name!r} imported ({image.device_type.display_name} {image.kind.value}"
            f"{' ' + image.variant if image.variant else ''}): tasks can use it now"
        )

    def _changed(self, message: str) -> None:
        self.status.emit(message)
        self.refresh()
