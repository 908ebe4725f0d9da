"""Logs: the instance's activity log beside the station's own log.

The activity log is paged from the instance and searched there. The station log is this program's
own records (port runs, worker errors, background failures), kept in a bounded model and filtered here
by level and by a regular expression.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.ui.models.activity_log import PagedActivityModel
from app.ui.models.formatting import plural
from app.ui.models.station_log import StationLogFilter
from app.ui.pages.base import Page
from app.ui.pages.context import PageContext
from app.ui.widgets.page_header import PageHeader, section_title
from app.ui.widgets.record_view import RecordView

LEVELS = (
    ("Debug and up", logging.DEBUG),
    ("Info and up", logging.INFO),
    ("Warnings and errors", logging.WARNING),
    ("Errors only", logging.ERROR),
)


class LogsPage(Page):
    title = "Logs"
    icon = "logs"
    order = 50

    def __init__(self, context: PageContext) -> None:
        super().__init__(context)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(20, 14, 20, 14)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        layout.addWidget(
            PageHeader(
                "Logs",
                "Who changed what on the instance, and what this station did.",
                self.refresh_button,
            )
        )
        # one above the other: both logs have long lines that need the full width
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self._activity_pane())
        splitter.addWidget(self._station_pane())
        splitter.setSizes([380, 320])
        layout.addWidget(splitter, 1)

    def _activity_pane(self) -> QWidget:
        pane = QWidget()
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 0, 0, 6)
        self.activity_model = PagedActivityModel(self.instance, parent=self)
        self.activity_model.error.connect(self.error)
        self.activity_model.loaded.connect(self._activity_counted)
        self.activity = RecordView(self.activity_model, widths=(150, 90, 150, 220), sortable=False)
        self.activity_search = QLineEdit()
        self.activity_search.setPlaceholderText("Search who, action, target, details…")
        self.activity_search.setClearButtonEnabled(True)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(300)
        self._search_timer.timeout.connect(lambda: self.activity_model.reload(self.activity_search.text()))
        self.activity_search.textChanged.connect(lambda _text: self._search_timer.start())
        self.activity_count = QLabel("")
        self.activity_count.setObjectName("hint")
        self.activity_search.setMinimumWidth(320)
        title_row = QHBoxLayout()
        title_row.addWidget(section_title("Instance activity"))
        title_row.addWidget(self.activity_count, 1)
        title_row.addWidget(self.activity_search)
        layout.addLayout(title_row)
        layout.addWidget(self.activity, 1)
        return pane

    def _station_pane(self) -> QWidget:
        pane = QWidget()
        layout = QVBoxLayout(pane)
        layout.setContentsMargins(0, 6, 0, 0)
        self.station_filter = StationLogFilter(self)
        self.station_filter.setSourceModel(self.context.station_log)
        self.station = RecordView(self.station_filter, widths=(100, 80, 220), sortable=False)
        self.station.setWordWrap(False)
        self.level = QComboBox()
        for label, level in LEVELS:
            self.level.addItem(label, level)
        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(
            lambda _i: self.station_filter.set_min_level(self.level.currentData())
        )
        self.station_filter.set_min_level(self.level.currentData())
        self.pattern = QLineEdit()
        self.pattern.setPlaceholderText("Filter (regular expression)…")
        self.pattern.setClearButtonEnabled(True)
        self.pattern.textChanged.connect(self.set_pattern)
        self.pattern_problem = QLabel("")
        self.pattern_problem.setObjectName("problem")
        self.pattern_problem.hide()
        self.follow = True
        self.station_filter.rowsInserted.connect(self._follow_tail)
        self.pattern.setMinimumWidth(320)
        title_row = QHBoxLayout()
        title_row.addWidget(section_title("Station log"), 1)
        title_row.addWidget(self.pattern_problem)
        title_row.addWidget(self.pattern)
        title_row.addWidget(self.level)
        layout.addLayout(title_row)
        layout.addWidget(self.station, 1)
        return pane

    def refresh(self) -> None:
        self.activity_model.reload(self.activity_search.text())

    def _activity_counted(self) -> None:
        total = self.activity_model.total or 0
        self.activity_count.setText(plural(total, "entry", "entries"))

    def set_pattern(self, text: str) -> None:
        problem = self.station_filter.set_pattern(text)
        self.pattern_problem.setText(problem)
        self.pattern_problem.setVisible(bool(problem))

    def _follow_tail(self) -> None:
        bar = self.station.verticalScrollBar()
        if self.follow and bar.value() >= bar.maximum() - 3:
            QTimer.singleShot(0, self.station, self.station.scrollToBottom)
