"""The Records page's filter row: search text, result, batch, task, operator and a date range.

It turns what the person chose into one `RecordFilter` (the same the CLI and the exports use) and says
when it changed; typing in the search box waits for a pause first, so each key press is not a query.
The batch/task/operator lists hold the names the records file has (`set_choices`), keeping the choice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta

from PySide6.QtCore import QDate, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QDateEdit, QHBoxLayout, QLabel, QLineEdit, QWidget

from app.provisioning.record_query import WARNED, RecordFilter, outcome_filter

SEARCH_PAUSE_MS = 300
OUTCOMES = (
    ("Any result", ""),
    ("Passed", "pass"),
    ("Warning", WARNED),  # passed, amber on the Station page: offline, kept WiFi, ... (short: fits 1024 px)
    ("Failed", "fail"),
    ("Cancelled", "cancelled"),
)
"""Item data are strings, never None: PySide6 6.12's `currentData()` drops a reference to None each
time it returns it, and the interpreter aborts ("deallocating None") after enough filter changes."""
ANY_TIME, TODAY, LAST_DAY, LAST_WEEK, BETWEEN = range(5)
PERIODS = ("Any time", "Today", "Last 24 hours", "Last 7 days", "Between…")


class RecordFilters(QWidget):
    changed = Signal(object)  # RecordFilter

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now().astimezone()) -> None:
        super().__init__()
        self._now = now
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search port, MAC, DeviceID, reason…")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(160)  # the row must fit a 1024-pixel-wide window
        self._pause = QTimer(self)
        self._pause.setSingleShot(True)
        self._pause.setInterval(SEARCH_PAUSE_MS)
        self._pause.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _text: self._pause.start())
        self.outcome = QComboBox()
        for label, outcome in OUTCOMES:
            self.outcome.addItem(label, outcome)
        self.batch = _names_box("Any batch")
        self.task = _names_box("Any task")
        self.operator = _names_box("Any operator")
        self.period = QComboBox()
        self.period.addItems(PERIODS)
        today = QDate.currentDate()
        self.date_from = _date_box(today.addDays(-7))
        self.date_to = _date_box(today)
        self.date_to_label = QLabel("to")
        layout.addWidget(self.search, 2)
        for widget in (self.outcome, self.batch, self.task, self.operator, self.period):
            layout.addWidget(widget)
        for date_part in (self.date_from, self.date_to_label, self.date_to):
            layout.addWidget(date_part)
        for box in (self.outcome, self.batch, self.task, self.operator, self.period):
            box.currentIndexChanged.connect(self._emit)
        for edit in (self.date_from, self.date_to):
            edit.dateChanged.connect(self._emit)
        self.period.currentIndexChanged.connect(self._show_dates)
        self._show_dates()

    def _show_dates(self) -> None:
        custom = self.period.currentIndex() == BETWEEN
        for widget in (self.date_from, self.date_to_label, self.date_to):
            widget.setVisible(custom)

    def set_choices(self, batches: Sequence[str], tasks: Sequence[str], operators: Sequence[str]) -> None:
        """Offer these names, keeping what is chosen (even a name no longer in the records)."""
        for box, names in ((self.batch, batches), (self.task, tasks), (self.operator, operators)):
            chosen = box.currentData()
            box.blockSignals(True)
            while box.count() > 1:
                box.removeItem(1)
            for name in sorted({*names, *([chosen] if chosen else [])}):
                box.addItem(name, name)
            box.setCurrentIndex(max(0, box.findData(chosen)) if chosen else 0)
            box.blockSignals(False)

    def current(self) -> RecordFilter:
        """The filter as chosen now. A 'Between' whose dates are the wrong way round is taken as
        from the earlier to the later date (the person meant a range, not nothing)."""
        since, until = self._dates()
        chosen = self.outcome.currentData()
        outcome, warned = outcome_filter(chosen) if chosen else (None, False)
        return RecordFilter(
            search=self.search.text().strip(),
            outcome=outcome,
            warned=warned,
            batch=self.batch.currentData() or "",
            task=self.task.currentData() or "",
            operator=self.operator.currentData() or "",
            since=since,
            until=until,
        )

    def _dates(self) -> tuple[datetime | None, datetime | None]:
        now = self._now()
        period = self.period.currentIndex()
        if period == TODAY:
            return datetime.combine(now.date(), time(), now.tzinfo), None
        if period == LAST_DAY:
            return now - timedelta(days=1), None
        if period == LAST_WEEK:
            return now - timedelta(days=7), None
        if period == BETWEEN:
            picked: list[date] = [self.date_from.date().toPython(), self.date_to.date().toPython()]  # type: ignore[list-item]
            first, last = sorted(picked)
            start = datetime.combine(first, time()).astimezone()
            end = datetime.combine(last + timedelta(days=1), time()).astimezone()
            return start, end
        return None, None

    def _emit(self) -> None:
        self.changed.emit(self.current())


def _names_box(anything: str) -> QComboBox:
    box = QComboBox()
    box.addItem(anything, "")
    box.setMinimumContentsLength(8)
    box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    return box


def _date_box(day: QDate) -> QDateEdit:
    edit = QDateEdit(day)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    return edit
