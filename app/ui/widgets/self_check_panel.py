"""The Settings page's "Run self-check": the checks of `ql-station self-check`, shown in the window.

The checks load esptool's data for four chips, ask the keyring and write to the data folder: a second
or two, so they run on the thread pool (app/workers/background.py) and the window stays responsive.
Each finding is one row: a coloured status, the check's name, what was found and what to do.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.provisioning.station_checks import station_self_check
from app.system.self_check import SelfCheckReport, Status
from app.ui.style import DEGRADED, DOWN, OK
from app.workers.background import CallFailure, start_call

STATUS_COLOURS = {Status.OK: OK, Status.WARN: DEGRADED, Status.FAIL: DOWN}


def run_checks(data_dir: Path) -> SelfCheckReport:
    """What the button runs, off the GUI thread: the same checks as the CLI's."""
    return station_self_check(data_dir)


class SelfCheckPanel(QWidget):
    """A button, a one-line verdict, and the findings. `finished` carries the report (None: it failed)."""

    finished = Signal(object)

    def __init__(self, data_dir: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._data_dir = data_dir
        self.report: SelfCheckReport | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        self.button = QPushButton("Run self-check")
        self.button.setToolTip(
            "The same checks as `ql-station self-check`: what a run needs on this computer"
        )
        self.button.clicked.connect(self.run)
        self.verdict = QLabel(
            "Checks esptool's data for every chip, the keyring, Qt, the data folder and ports."
        )
        self.verdict.setObjectName("hint")
        self.verdict.setWordWrap(True)
        top.addWidget(self.button)
        top.addWidget(self.verdict, 1)
        layout.addLayout(top)
        self.rows = QGridLayout()
        self.rows.setHorizontalSpacing(12)
        self.rows.setVerticalSpacing(6)
        self.rows.setColumnStretch(2, 1)
        layout.addLayout(self.rows)

    def run(self) -> None:
        self.button.setEnabled(False)
        self.verdict.setText("Checking…")
        data_dir = self._data_dir
        start_call(lambda: run_checks(data_dir), "Self-check", self._show, self._failed, owner=self)

    def _show(self, report: SelfCheckReport) -> None:
        self.report = report
        self._clear_rows()
        for row, check in enumerate(report.checks):
            status = QLabel(check.status.value.upper())
            status.setStyleSheet(f"color: {STATUS_COLOURS[check.status]}; font-weight: bold;")
            name = QLabel(check.name)
            text = check.detail if not check.fix else f"{check.detail}\n→ {check.fix}"
            detail = QLabel(text)
            detail.setWordWrap(True)
            detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            for column, label in enumerate((status, name, detail)):
                self.rows.addWidget(label, row, column, Qt.AlignmentFlag.AlignTop)
        failed = [check.name for check in report.with_status(Status.FAIL)]
        warned = len(report.with_status(Status.WARN))
        if failed:
            self.verdict.setText(f"Missing for a run: {', '.join(failed)}.")
            self.verdict.setStyleSheet(f"color: {DOWN};")
        else:
            note = f" ({warned} warning{'s' if warned != 1 else ''})" if warned else ""
            self.verdict.setText(f"Everything a run needs is here{note}.")
            self.verdict.setStyleSheet(f"color: {OK};")
        self.button.setEnabled(True)
        self.finished.emit(report)

    def _failed(self, failure: CallFailure) -> None:
        self.verdict.setText(failure.message)
        self.verdict.setStyleSheet(f"color: {DOWN};")
        self.button.setEnabled(True)
        self.finished.emit(None)

    def _clear_rows(self) -> None:
        while self.rows.count():
            item = self.rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
