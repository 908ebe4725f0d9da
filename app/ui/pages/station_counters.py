"""The session's counters on the Station page: boards passed, failed, and the rate in boards per hour.

The rate counts passed boards over the time since the session's first start, up to now while boards are
still running and up to the last result once everything is finished (so a lunch break after the last
board does not make the line look slow). Less than a minute counts as a minute: four boards passed in
the first ten seconds read as 240 an hour, not 1,440.
"""

from __future__ import annotations

import time

from PySide6.QtWidgets import QHBoxLayout, QWidget

from app.provisioning.events import Outcome
from app.ui.models.formatting import plural
from app.ui.style import set_tone
from app.ui.widgets.panels import StatPanel
from app.workers.port_states import PortResult

MIN_RATE_SECONDS = 60.0  # a few boards in the first seconds are not a rate


class SessionCounters:
    def __init__(self) -> None:
        self.passed = 0
        self.warned = 0  # of the passed, those with a warning (amber tiles)
        self.failed = 0
        self.cancelled = 0
        self.first_start: float | None = None
        self.last_finish: float | None = None

    def started(self, now: float | None = None) -> None:
        if self.first_start is None:
            self.first_start = time.monotonic() if now is None else now

    def finished(self, result: PortResult, now: float | None = None) -> None:
        self.last_finish = time.monotonic() if now is None else now
        if result.outcome is Outcome.PASS:
            self.passed += 1
            self.warned += result.warning is not None
        elif result.outcome is Outcome.FAIL:
            self.failed += 1
        else:
            self.cancelled += 1

    def boards_per_hour(self, running: bool, now: float | None = None) -> float | None:
        if self.first_start is None or self.last_finish is None:
            return None
        end = (time.monotonic() if now is None else now) if running else self.last_finish
        seconds = max(MIN_RATE_SECONDS, end - self.first_start)
        return self.passed * 3600.0 / seconds


class CountersRow(QWidget):
    def __init__(self) -> None:
        super().__init__()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.passed = StatPanel("Passed", "boards this session")
        self.failed = StatPanel("Failed", "boards this session")
        self.rate = StatPanel("Boards per hour", "passed, since the first start")
        self.running = StatPanel("Running", "ports provisioning now")
        set_tone(self.passed.value, "ok")
        self._failed_red = False
        for panel in (self.passed, self.failed, self.rate, self.running):
            layout.addWidget(panel, 1)
        self.show_counts(SessionCounters(), 0)

    def show_counts(self, counters: SessionCounters, running: int) -> None:
        self.passed.set_value(str(counters.passed))
        warned = f"{counters.warned} with a warning" if counters.warned else "boards this session"
        if warned != self.passed.detail.text():
            self.passed.detail.setText(warned)
        self.failed.set_value(str(counters.failed))
        if (counters.failed > 0) != self._failed_red:  # red only once something failed
            self._failed_red = counters.failed > 0
            set_tone(self.failed.value, "down" if self._failed_red else None)
        detail = "boards this session"
        if counters.cancelled:  # stopped by the operator: not failures, so not in the figure
            detail = f"{plural(counters.cancelled, 'board')} cancelled (not counted)"
        if detail != self.failed.detail.text():
            self.failed.detail.setText(detail)
        rate = counters.boards_per_hour(running > 0)
        self.rate.set_value("—" if rate is None else f"{rate:,.0f}")
        self.running.set_value(str(running))
