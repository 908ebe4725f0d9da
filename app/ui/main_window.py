"""The station window: navigation on the left, one page at a time, status bar, one error sink."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from app.domain.records import InstanceInfo
from app.instance.api import Instance
from app.ui.pages.base import Page
from app.ui.pages.dashboard import DashboardPage


class MainWindow(QMainWindow):
    def __init__(self, instance: Instance, info: InstanceInfo) -> None:
        super().__init__()
        self.instance = instance
        self.info = info
        self.setWindowTitle(f"QuarkLink Provisioning Station — {info.name}")
        self.resize(1200, 780)

        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(190)
        self.stack = QStackedWidget()
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.pages: list[Page] = []
        for page in sorted(self._make_pages(), key=lambda p: p.order):
            self._add_page(page)
        self.nav.currentRowChanged.connect(self._show_page)

        self.connection_label = QLabel(self._connection_text())
        self.connection_label.setObjectName("connection")
        self.user_label = QLabel(f"{info.actor} ({info.role.value})")
        self.statusBar().addWidget(self.connection_label, 1)
        self.statusBar().addPermanentWidget(self.user_label)
        self.nav.setCurrentRow(0)

    def _make_pages(self) -> list[Page]:
        return [DashboardPage(self.instance)]

    def _add_page(self, page: Page) -> None:
        self.pages.append(page)
        self.stack.addWidget(page)
        item = QListWidgetItem(page.title)
        item.setData(Qt.ItemDataRole.UserRole, page.title)
        self.nav.addItem(item)
        error = getattr(page, "error", None)
        if error is not None:
            error.connect(self.show_error)

    def _connection_text(self) -> str:
        where = "built-in local instance" if self.info.kind == "local" else "remote instance"
        return f"Connected to the {where} “{self.info.name}” — {self.info.location}"

    def _show_page(self, row: int) -> None:
        if 0 <= row < len(self.pages):
            self.stack.setCurrentIndex(row)
            self.pages[row].refresh()

    def page(self, title: str) -> Page:
        return next(p for p in self.pages if p.title == title)

    def show_error(self, message: str) -> None:
        """The one place errors reach the person."""
        self.statusBar().showMessage(message, 15_000)
        QMessageBox.warning(self, "QuarkLink Provisioning Station", message)
