"""One record in full beside the Records table: what happened to the board, step by step.

Everything the record holds, selectable (a DeviceID or MAC is copied from here into a ticket), the
reason in full, and the step log as a table (time, step, status, message). "Re-enrol this board…"
asks the window to re-enrol the board on the record's port (the Station page runs it, with the WiFi
chosen there now): the failure messages that say "re-enrol the board" have their button here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.provisioning.events import Outcome
from app.provisioning.records import ProvisioningRecord
from app.provisioning.step_log import StepLogEntry
from app.ui.models.formatting import fixed_font, spaced_hex, when
from app.ui.models.records_model import OUTCOME_COLOURS, WARNING_COLOUR, result_colour, result_text
from app.ui.widgets.page_header import section_title

STATUS_COLOURS = {"failed": OUTCOME_COLOURS[Outcome.FAIL], "error": OUTCOME_COLOURS[Outcome.FAIL]}
STATUS_COLOURS |= {outcome.value: colour for outcome, colour in OUTCOME_COLOURS.items()}
FIELDS = (
    "When", "Port", "Chip", "MAC", "DeviceID", "Batch", "Task", "Operator", "Station", "Time taken",
    "DeviceID push", "Ended at step",
)  # fmt: skip


class RecordDetail(QWidget):
    reenrol_requested = Signal(str, str)  # port, batch
    copied = Signal(str)  # what was copied, for the status bar

    def __init__(self) -> None:
        super().__init__()
        self.record: ProvisioningRecord | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        self.headline = QLabel("Select a record to see its steps")
        self.headline.setObjectName("sectionTitle")
        self.headline.setWordWrap(True)
        layout.addWidget(self.headline)
        form = QFormLayout()
        form.setContentsMargins(0, 4, 0, 4)
        form.setVerticalSpacing(3)
        self.values: dict[str, QLabel] = {}
        for name in FIELDS:
            value = QLabel("")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            if name in ("MAC", "DeviceID"):
                value.setFont(fixed_font())
            self.values[name] = value
            form.addRow(f"{name}:", value)
        layout.addLayout(form)
        self.reason = QLabel("")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason.setObjectName("problem")
        layout.addWidget(self.reason)
        buttons = QHBoxLayout()
        self.reenrol_button = QPushButton("Re-enrol this board…")
        self.reenrol_button.setToolTip(
            "Serve the board's IEF again on its port, with the WiFi chosen on the Station page now: "
            "nothing is flashed, its DeviceID goes into the batch"
        )
        self.reenrol_button.clicked.connect(self._reenrol)
        self.copy_button = QPushButton("Copy DeviceID")
        self.copy_button.clicked.connect(self._copy)
        buttons.addWidget(self.reenrol_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        layout.addWidget(section_title("Step log"))
        self.steps = QTableWidget(0, 4)
        self.steps.setHorizontalHeaderLabels(["Time", "Step", "Status", "Message"])
        self.steps.verticalHeader().setVisible(False)
        self.steps.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.steps.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.steps.setWordWrap(True)
        header = self.steps.horizontalHeader()
        header.setStretchLastSection(True)
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        layout.addWidget(self.steps, 1)
        self.show_record(None)

    def show_record(self, record: ProvisioningRecord | None) -> None:
        self.record = record
        self.reenrol_button.setEnabled(record is not None)
        self.copy_button.setEnabled(record is not None and bool(record.device_id))
        if record is None:
            self.headline.setText("Select a record to see its steps")
            self.headline.setStyleSheet("")
            for value in self.values.values():
                value.setText("")
            self.reason.setText("")
            self.steps.setRowCount(0)
            return
        mode = " (re-enrolment)" if record.mode == "reenrol" else ""
        self.headline.setText(f"{result_text(record)}{mode} · {record.port}")
        self.headline.setStyleSheet(f"color: {result_colour(record)};")
        shown = {
            "When": when(record.at),
            "Port": record.port,
            "Chip": record.chip or "—",
            "MAC": record.mac or "—",
            "DeviceID": spaced_hex(record.device_id) if record.device_id else "— (the board gave none)",
            "Batch": record.batch,
            "Task": record.task or "—",
            "Operator": record.operator,
            "Station": record.station,
            "Time taken": f"{record.duration_s:.1f} s",
            "DeviceID push": record.push_state.value,
            "Ended at step": record.step or "— (recorded before steps were kept)",
        }
        for name, text in shown.items():
            self.values[name].setText(text)
        if record.error or not record.warning:
            self.reason.setText(f"Reason: {record.error}" if record.error else "")
            self.reason.setStyleSheet("")
        else:  # a pass with a warning: amber, as its tile was
            self.reason.setText(f"Warning: {record.warning}")
            self.reason.setStyleSheet(f"color: {WARNING_COLOUR};")
        self._show_steps(record.step_log)

    def _show_steps(self, entries: tuple[StepLogEntry, ...]) -> None:
        self.steps.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            cells = (
                entry.at.astimezone().strftime("%H:%M:%S.%f")[:-3],
                entry.step,
                entry.status,
                entry.message,
            )
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                colour = STATUS_COLOURS.get(entry.status)
                if column == 2 and colour is not None:
                    item.setForeground(QColor(colour))
                self.steps.setItem(row, column, item)
        self.steps.resizeRowsToContents()

    def step_lines(self) -> list[str]:
        """The step log as shown, one line per row (tests and copy)."""
        lines = []
        for row in range(self.steps.rowCount()):
            cells = (self.steps.item(row, column) for column in range(4))
            lines.append(" ".join(cell.text() for cell in cells if cell is not None).strip())
        return lines

    def _reenrol(self) -> None:
        if self.record is not None:
            self.reenrol_requested.emit(self.record.port, self.record.batch)

    def _copy(self) -> None:
        if self.record is not None and self.record.device_id:
            QGuiApplication.clipboard().setText(self.record.device_id)
            self.copied.emit(f"DeviceID copied: {self.record.device_id}")
