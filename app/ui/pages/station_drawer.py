"""The log drawer: one port's log and serial console, beside the tiles, opened from a tile.

One drawer for all ports (not a text view per tile): 32 hidden text views would each have to take
every line. The page keeps each port's lines in bounded buffers (`PortLines`) and the drawer shows the
chosen port's, appending as new lines arrive. The console shows the board's UART lines as the engine
reported them; the WiFi password is already masked by then (by the port worker and again by the station
worker), so nothing here needs to know it.

Above the views, the tile's reason in full (a tile shows what fits in two or three lines). Lines wrap
and a view opens at its left edge: a log read sideways loses its timestamps.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
)

MAX_LINES = 2_000
LOG_TAB, CONSOLE_TAB = 0, 1


class PortLines:
    """A port's log and console lines for this session, the newest `MAX_LINES` of each."""

    def __init__(self) -> None:
        self.log: deque[str] = deque(maxlen=MAX_LINES)
        self.console: deque[str] = deque(maxlen=MAX_LINES)


def _text_view() -> QPlainTextEdit:
    view = QPlainTextEdit()
    view.setReadOnly(True)
    view.setMaximumBlockCount(MAX_LINES)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    font = QFont("DejaVu Sans Mono")
    font.setStyleHint(QFont.StyleHint.Monospace)
    font.setPixelSize(12)
    view.setFont(font)
    return view


class StationDrawer(QFrame):
    closed = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("panel")
        self.port: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        top = QHBoxLayout()
        self.heading = QLabel("")
        self.heading.setObjectName("sectionTitle")
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close_drawer)
        top.addWidget(self.heading, 1)
        top.addWidget(self.close_button)
        layout.addLayout(top)
        self.reason = QLabel("")
        self.reason.setWordWrap(True)
        self.reason.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.reason.hide()
        layout.addWidget(self.reason)
        self.tabs = QTabWidget()
        self.log_view = _text_view()
        self.console_view = _text_view()
        self.tabs.addTab(self.log_view, "Log")
        self.tabs.addTab(self.console_view, "Serial console")
        layout.addWidget(self.tabs, 1)
        self.hide()

    def show_port(self, port: str, title: str, lines: PortLines, tab: int, reason: str = "") -> None:
        self.port = port
        self.heading.setText(title)
        self.heading.setToolTip(port)
        self.set_reason(reason)
        self.log_view.setPlainText("\n".join(lines.log))
        self.console_view.setPlainText("\n".join(lines.console))
        self.tabs.setCurrentIndex(tab)
        self.show()
        for view in (self.log_view, self.console_view):
            view.moveCursor(view.textCursor().MoveOperation.End)
            view.horizontalScrollBar().setValue(0)

    def set_reason(self, reason: str) -> None:
        """The shown port's outcome in full ("" while it runs: the log says what it does)."""
        if reason != self.reason.text():
            self.reason.setText(reason)
        self.reason.setVisible(bool(reason))

    def append(self, port: str, log: Iterable[str], console: Iterable[str]) -> None:
        """New lines of `port`; ignored unless the drawer shows that port."""
        if port != self.port or not self.isVisible():
            return
        for view, lines in ((self.log_view, log), (self.console_view, console)):
            text = "\n".join(lines)
            if text:
                view.appendPlainText(text)

    def close_drawer(self) -> None:
        self.port = None
        self.hide()
        self.closed.emit()
