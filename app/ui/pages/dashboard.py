"""Dashboard: the instance's health panels, device and certificate counts, last activity."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from app.domain.kinds import HealthLevel
from app.domain.records import DashboardSummary
from app.instance.api import Instance
from app.ui.pages.base import Page
from app.workers.background import start_call

LEVEL_COLOURS = {HealthLevel.OK: "#2e7d32", HealthLevel.DEGRADED: "#ef6c00", HealthLevel.DOWN: "#c62828"}


class _Panel(QFrame):
    def __init__(self, title: str) -> None:
        super().__init__()
        self.setObjectName("panel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        self.title = QLabel(title)
        self.title.setObjectName("panelTitle")
        self.value = QLabel("…")
        self.value.setObjectName("panelValue")
        layout.addWidget(self.title)
        layout.addWidget(self.value)


class DashboardPage(Page):
    title = "Dashboard"
    icon = "dashboard"
    order = 0
    error = Signal(str)

    def __init__(self, instance: Instance) -> None:
        super().__init__()
        self._instance = instance
        layout = QVBoxLayout(self)
        header = QHBoxLayout()
        heading = QLabel("Dashboard")
        heading.setObjectName("pageTitle")
        header.addWidget(heading)
        header.addStretch(1)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        header.addWidget(self.refresh_button)
        layout.addLayout(header)

        self.health_grid = QGridLayout()
        self.health_panels: dict[str, _Panel] = {}
        layout.addLayout(self.health_grid)

        counts = QGridLayout()
        self.device_panels = {name: _Panel(name) for name in ("Renewed", "Enrolled", "Revoked", "Expired")}
        for column, panel in enumerate(self.device_panels.values()):
            counts.addWidget(panel, 0, column)
        self.cert_panels = {
            name: _Panel(f"Certificates {name.lower()}") for name in ("Valid", "Expired", "Not used")
        }
        for column, panel in enumerate(self.cert_panels.values()):
            counts.addWidget(panel, 1, column)
        layout.addLayout(counts)

        activity_title = QLabel("Last activity")
        activity_title.setObjectName("sectionTitle")
        layout.addWidget(activity_title)
        self.activity = QTableWidget(0, 4)
        self.activity.setHorizontalHeaderLabels(["When (UTC)", "Who", "Action", "Target"])
        self.activity.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.activity.verticalHeader().setVisible(False)
        self.activity.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.activity, 1)
        self.summary: DashboardSummary | None = None

    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        start_call(self._instance.dashboard_summary, "Loading the dashboard", self._show, self._failed)

    def _failed(self, message: str) -> None:
        self.refresh_button.setEnabled(True)
        self.error.emit(message)

    def _show(self, summary: DashboardSummary) -> None:
        self.refresh_button.setEnabled(True)
        self.summary = summary
        for index, health in enumerate(summary.health):
            panel = self.health_panels.get(health.name)
            if panel is None:
                panel = self.health_panels[health.name] = _Panel(health.name)
                self.health_grid.addWidget(panel, 0, index)
            panel.value.setText(health.label.upper() if health.label in ("ok", "down") else health.label)
            panel.value.setStyleSheet(f"color: {LEVEL_COLOURS[health.level]}; font-weight: bold;")
            panel.setToolTip(health.detail)
        d = summary.devices
        for name, value in (
            ("Renewed", d.renewed),
            ("Enrolled", d.enrolled),
            ("Revoked", d.revoked),
            ("Expired", d.expired),
        ):
            self.device_panels[name].value.setText(f"{value:,}")
        c = summary.certificates
        for name, value in (("Valid", c.valid), ("Expired", c.expired), ("Not used", c.not_used)):
            self.cert_panels[name].value.setText(f"{value:,}")
        self.activity.setRowCount(len(summary.last_activity))
        for row, entry in enumerate(summary.last_activity):
            values = (entry.at.strftime("%Y-%m-%d %H:%M:%S"), entry.actor, entry.action, entry.target)
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsEditable)
                self.activity.setItem(row, column, item)
