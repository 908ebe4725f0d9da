"""The Station page's counters as a person reads them, in both themes."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.provisioning.events import Outcome
from app.ui.pages.station_counters import CountersRow, SessionCounters
from app.ui.style import _COLOURS, apply_theme
from app.workers.port_states import PortResult


def _result(outcome: Outcome) -> PortResult:
    return PortResult("sim://1", 1, outcome, 1.0, "", "", "ESP32-C3")


def _luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())
    )


def contrast(a: QColor, b: QColor) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_cancelled_boards_are_not_read_as_more_failures(qtbot: QtBot) -> None:
    row = CountersRow()
    qtbot.addWidget(row)
    counters = SessionCounters()
    counters.finished(_result(Outcome.CANCELLED))
    row.show_counts(counters, 0)
    assert row.failed.value.text() == "0"
    assert row.failed.detail.text() == "1 board cancelled (not counted)", "it read “0 / 1 more cancelled”"
    counters.finished(_result(Outcome.CANCELLED))
    row.show_counts(counters, 0)
    assert row.failed.detail.text() == "2 boards cancelled (not counted)"


def test_green_and_red_figures_are_readable_in_the_dark_theme(qtbot: QtBot, qapp: Any) -> None:
    assert isinstance(qapp, QApplication)
    try:
        for theme in ("dark", "light"):
            apply_theme(qapp, theme)
            row = CountersRow()
            qtbot.addWidget(row)
            counters = SessionCounters()
            counters.finished(_result(Outcome.FAIL))
            row.show_counts(counters, 0)
            row.show()
            panel = QColor(_COLOURS[theme]["panel"])
            for label in (row.passed.value, row.failed.value):
                label.ensurePolished()
                text = label.palette().color(QPalette.ColorRole.WindowText)
                assert contrast(text, panel) >= 4.5, (theme, label.text(), text.name())
    finally:
        apply_theme(qapp, "light")
        qapp.setStyleSheet("")
