"""Dashboard: the instance's health panels, device and certificate counts, and the last activity.

It mirrors the instance's own dashboard, so an operator sees at a glance whether the HSM, backend,
database and IoT hubs are fine before starting a shift. It refreshes in the background every 10 s
while it is visible, and whenever it is shown.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLineEdit, QPushButton, QVBoxLayout

from app.domain.records import ActivityEntry, DashboardSummary
from app.ui.models.formatting import count, plural, when
from app.ui.models.table_model import Column, RecordTableModel, sorting_proxy
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.widgets.column_chooser import ColumnChooser
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.panels import HealthPanel, StatPanel
from app.ui.widgets.record_view import RecordView
from app.workers.background import CallFailure

# The instance's own four panels, then Registered: what a station has just provisioned and pushed
# shows there until the device enrols, so an operator sees the boards of this shift arrive.
DEVICE_STATES = ("Renewed", "Enrolled", "Revoked", "Expired", "Registered")
CERTIFICATE_STATES = ("Valid", "Expired", "Not used")
CERTIFICATE_MEANINGS = {
    "Valid": "The instance's own certificates in use, and those of Enrolled and Renewed devices",
    "Expired": "Certificates past their end date: the instance's own, and those of Expired devices",
    "Not used": "Certificates nothing relies on yet: the instance's own unused ones (the issuing CA before "
    "any device enrolled, a TLS certificate not named by the endpoint), and one per device registered "
    "but not yet enrolled",
}
ACTIVITY_COLUMNS: tuple[Column[ActivityEntry], ...] = (
    Column("When", lambda e: when(e.at), sort_key=lambda e: e.id),
    Column("Who", lambda e: e.actor),
    Column("Action", lambda e: e.action),
    Column("Target", lambda e: e.target, tooltip=lambda e: e.target),
    Column("Details", lambda e: e.details, tooltip=lambda e: e.details),
)


class DashboardPage(Page):
    title = "Dashboard"
    icon = "dashboard"
    order = 0
    refresh_interval_ms = 10_000

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        self.summary: DashboardSummary | None = None
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        layout.addWidget(PageHeader("Dashboard", f"{context.info.name} — status, devices and activity"))

        self.health_grid = QGridLayout()
        self.health_panels: dict[str, HealthPanel] = {}
        layout.addLayout(self.health_grid)

        devices_row = QHBoxLayout()
        devices_row.addWidget(section_title("Devices"), 1)
        self.go_devices = QPushButton("Go to Devices")
        self.go_devices.clicked.connect(lambda: self.navigate.emit("Devices"))
        devices_row.addWidget(self.go_devices)
        layout.addLayout(devices_row)
        grid = QGridLayout()
        self.device_panels = {name: StatPanel(name, "devices") for name in DEVICE_STATES}
        for column, panel in enumerate(self.device_panels.values()):
            grid.addWidget(panel, 0, column)
            grid.setColumnStretch(column, 1)
        layout.addLayout(grid)

        certs_row = QHBoxLayout()
        certs_row.addWidget(section_title("Certificates"), 1)
        self.go_hsm = QPushButton("Go to HSM")
        self.go_hsm.clicked.connect(lambda: self.navigate.emit("HSM"))
        certs_row.addWidget(self.go_hsm)
        layout.addLayout(certs_row)
        grid = QGridLayout()
        self.cert_panels = {name: StatPanel(name, "certificates") for name in CERTIFICATE_STATES}
        for name, panel in self.cert_panels.items():
            panel.setToolTip(CERTIFICATE_MEANINGS[name])
        for column, panel in enumerate(self.cert_panels.values()):
            grid.addWidget(panel, 0, column)
        for column in range(len(DEVICE_STATES)):  # the same widths as the device panels above
            grid.setColumnStretch(column, 1)
        layout.addLayout(grid)

        self.activity_model = RecordTableModel(ACTIVITY_COLUMNS, self)
        self.activity_proxy = sorting_proxy(self.activity_model, self)
        self.activity = RecordView(self.activity_proxy, widths=(150, 110, 150, 260))
        self.activity.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search activity…")
        self.search.setMinimumWidth(220)
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.activity_proxy.setFilterFixedString)
        self.columns = ColumnChooser(self.activity, hidden=())
        activity_row = QHBoxLayout()
        activity_row.addWidget(section_title("Last activity"), 1)
        activity_row.addWidget(self.search)
        activity_row.addWidget(self.columns)
        activity_row.addWidget(self.refresh_button)
        layout.addLayout(activity_row)
        layout.addWidget(self.activity, 1)

    def refresh(self) -> None:
        if self._loading:
            return
        self._loading = True
        self.refresh_button.setEnabled(False)
        self.call(self.instance.dashboard_summary, "Loading the dashboard", self._show, self._failed)

    def _failed(self, _failure: CallFailure) -> None:
        self._loading = False
        self.refresh_button.setEnabled(True)

    def _show(self, summary: DashboardSummary) -> None:
        self._loading = False
        self.refresh_button.setEnabled(True)
        self.summary = summary
        for index, health in enumerate(summary.health):
            panel = self.health_panels.get(health.name)
            if panel is None:
                panel = self.health_panels[health.name] = HealthPanel(health.name)
                self.health_grid.addWidget(panel, 0, index)
                self.health_grid.setColumnStretch(index, 1)
            panel.show_health(health)
        d = summary.devices
        values = (d.renewed, d.enrolled, d.revoked, d.expired, d.registered)
        for name, value in zip(DEVICE_STATES, values, strict=True):
            self.device_panels[name].set_value(count(value))
        self.go_devices.setToolTip(
            f"{plural(d.total, 'device')} in all, {count(d.registered)} not yet enrolled"
        )
        c = summary.certificates
        for name, value in zip(CERTIFICATE_STATES, (c.valid, c.expired, c.not_used), strict=True):
            self.cert_panels[name].set_value(count(value))
        self.activity_model.set_records(summary.last_activity)
