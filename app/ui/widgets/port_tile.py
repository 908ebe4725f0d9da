"""One port's tile on the Station page: what the board is doing, and whether it passed, at a glance.

The verdict is a painted badge: a colour AND a word with a symbol ("✓ PASS", "✗ FAIL"), large enough to
read from across a bench, so nobody has to tell green from red. Painting it (rather than restyling a
label) keeps a state change cheap when 32 tiles change at once: no style sheet is re-polished.

A tile holds no engine state of its own: `show_snapshot` draws whatever the station worker sent, in
the words of port_wording.py.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QGuiApplication,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.ui.widgets.port_wording import bar_fraction, step_text
from app.workers.port_states import PortSnapshot, PortState

TILE_WIDTH = 250
TILE_HEIGHT = 192

# Background, text, word. The word always carries the meaning; the colour repeats it.
BADGES: dict[PortState, tuple[str, str, str]] = {
    PortState.READY: ("#e8ecf0", "#3d4752", "READY"),
    PortState.PREPARING: ("#d6e6f7", "#1d4f86", "PREPARING"),
    PortState.RUNNING: ("#2f6fb2", "#ffffff", "RUNNING"),
    PortState.PASS: ("#2e7d32", "#ffffff", "✓  PASS"),
    PortState.FAIL: ("#c62828", "#ffffff", "✗  FAIL"),
    PortState.CANCELLED: ("#5f6b76", "#ffffff", "■  CANCELLED"),
}
UNPLUGGED = ("#e8ecf0", "#8a949e", "UNPLUGGED")
PROGRESS_COLOUR = "#2f6fb2"


def elapsed_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def short_id(device_id: str) -> str:
    return f"{device_id[:8]}…{device_id[-6:]}" if len(device_id) > 16 else device_id


class VerdictBadge(QWidget):
    """A rounded block in the state's colour with the state's word in large bold letters."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(38)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._font = QFont(self.font())
        self._font.setPixelSize(19)
        self._font.setBold(True)
        self.background, self.foreground, self.text = BADGES[PortState.READY]

    def sizeHint(self) -> QSize:
        return QSize(200, 38)

    def set_badge(self, background: str, foreground: str, text: str) -> None:
        if (background, foreground, text) != (self.background, self.foreground, self.text):
            self.background, self.foreground, self.text = background, foreground, text
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(self.background))
        painter.drawRoundedRect(QRectF(self.rect()), 5, 5)
        painter.setPen(QPen(QColor(self.foreground)))
        painter.setFont(self._font)
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.text)
        painter.end()


class ProgressStrip(QWidget):
    """A thin progress bar that repaints later, with the rest of the window.

    QProgressBar repaints itself at once inside `setValue` when the change is visible, so 32 tiles
    moving in one coalesced update cost 32 synchronous paints on the GUI thread; this one only asks.
    """

    def __init__(self, maximum: int = 1000) -> None:
        super().__init__()
        self._maximum = maximum
        self._value = 0
        self._colour = PROGRESS_COLOUR
        self.setFixedHeight(8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return self._maximum

    def set_colour(self, colour: str) -> None:
        if colour != self._colour:
            self._colour = colour
            self.update()

    def setValue(self, value: int) -> None:
        value = max(0, min(self._maximum, value))
        if value != self._value:
            self._value = value
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        rect = QRectF(self.rect())
        painter.setBrush(self.palette().color(QPalette.ColorRole.Mid).lighter(130))
        painter.drawRoundedRect(rect, 3, 3)
        if self._value:
            painter.setBrush(QColor(self._colour))
            painter.drawRoundedRect(
                QRectF(0, 0, rect.width() * self._value / self._maximum, rect.height()), 3, 3
            )
        painter.end()


class PortTile(QFrame):
    """Signals carry the tile's port URL."""

    cancel_requested = Signal(str)
    retry_requested = Signal(str)
    log_requested = Signal(str)
    console_requested = Signal(str)
    copied = Signal(str)  # the DeviceID that went to the clipboard

    def __init__(self, port: str, title: str, chip: str = "", description: str = "") -> None:
        super().__init__()
        self.port = port
        self.state = PortState.READY
        self.run = 0
        self.device_id = ""
        self.started_mono: float | None = None
        self.duration_s: float | None = None
        self.plugged = True
        self.snapshot: PortSnapshot | None = None
        self.setObjectName("portTile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedSize(TILE_WIDTH, TILE_HEIGHT)
        self._edge = ""
        self.setToolTip(description or port)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(5)
        top = QHBoxLayout()
        self.title = QLabel(title)
        bold = QFont(self.title.font())
        bold.setBold(True)
        bold.setPixelSize(14)
        self.title.setFont(bold)
        self.chip = QLabel(chip or "chip not known yet")
        self.chip.setObjectName("hint")
        self.elapsed = QLabel("")
        self.elapsed.setObjectName("hint")
        self.elapsed.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.elapsed.setMinimumWidth(44)
        top.addWidget(self.title)
        top.addWidget(self.chip, 1)
        top.addWidget(self.elapsed)
        layout.addLayout(top)

        self.badge = VerdictBadge()
        layout.addWidget(self.badge)
        self.step = QLabel("Ready")
        self.step.setObjectName("hint")
        self.step.setMinimumWidth(10)
        layout.addWidget(self.step)
        self.progress = ProgressStrip()
        layout.addWidget(self.progress)

        id_row = QHBoxLayout()
        self.device_label = QLabel("DeviceID —")
        self.device_label.setObjectName("mono")
        self.device_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the full DeviceID to the clipboard")
        self.copy_button.setEnabled(False)
        self.copy_button.setFixedWidth(56)
        self.copy_button.clicked.connect(self.copy_device_id)
        id_row.addWidget(self.device_label, 1)
        id_row.addWidget(self.copy_button)
        layout.addLayout(id_row)

        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        self.log_button = QPushButton("Log")
        self.console_button = QPushButton("Console")
        self.retry_button = QPushButton("Retry")
        self.cancel_button = QPushButton("Cancel")
        self.log_button.setToolTip("Show this port's log in the drawer")
        self.console_button.setToolTip("Show what the board printed on its UART (WiFi password masked)")
        self.retry_button.setToolTip("Provision this board again with the same task and batch")
        self.cancel_button.setToolTip("Stop this board's run and reset the board")
        self.log_button.clicked.connect(lambda: self.log_requested.emit(self.port))
        self.console_button.clicked.connect(lambda: self.console_requested.emit(self.port))
        self.retry_button.clicked.connect(lambda: self.retry_requested.emit(self.port))
        self.cancel_button.clicked.connect(lambda: self.cancel_requested.emit(self.port))
        for button in (self.log_button, self.console_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self._set_buttons()

    # --- what the worker sent --------------------------------------------------------------------
    def show_snapshot(self, snap: PortSnapshot) -> None:
        self.snapshot = snap
        self.state, self.run = snap.state, snap.run
        self.started_mono, self.duration_s = snap.started_mono, snap.duration_s
        if snap.chip:
            self.chip.setText(snap.chip)
        fraction = bar_fraction(snap.reached)
        self._set_step(step_text(snap), snap.message)
        self.progress.setValue(round(fraction * 1000))
        self._set_device_id(snap.device_id)
        self._paint_badge(fraction)
        self.tick(time.monotonic())
        self._set_buttons()

    def set_identity(self, title: str, chip: str, description: str) -> None:
        """What discovery knows about the port (it may arrive after the first snapshot)."""
        if title != self.title.text():
            self.title.setText(title)
        if chip and (self.snapshot is None or not self.snapshot.chip):
            self.chip.setText(chip)
        self.setToolTip(description or self.port)

    def set_plugged(self, plugged: bool) -> None:
        if plugged != self.plugged:
            self.plugged = plugged
            self._paint_badge(self.progress.value() / 1000)
            self._set_buttons()

    def tick(self, now: float) -> None:
        """Called about once a second by the page for running tiles, and on every snapshot."""
        if self.duration_s is not None and self.state.finished:
            text = elapsed_text(self.duration_s)
        elif self.started_mono is not None and self.state.busy:
            text = elapsed_text(now - self.started_mono)
        else:
            text = ""
        if text != self.elapsed.text():
            self.elapsed.setText(text)

    def copy_device_id(self) -> None:
        if self.device_id:
            QGuiApplication.clipboard().setText(self.device_id)
            self.copied.emit(self.device_id)

    # --- drawing ---------------------------------------------------------------------------------
    def _paint_badge(self, fraction: float) -> None:
        if not self.plugged and not self.state.busy and self.state is PortState.READY:
            self.badge.set_badge(*UNPLUGGED)
            return
        background, foreground, word = BADGES[self.state]
        if self.state is PortState.RUNNING:
            word = f"RUNNING  {int(fraction * 100)}%"
        if not self.plugged:
            word = f"{word} · unplugged"
        self.badge.set_badge(background, foreground, word)
        self.progress.set_colour(background if self.state.finished else PROGRESS_COLOUR)
        edge = background if self.state is not PortState.READY else ""
        if edge != self._edge:
            self._edge = edge
            self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        if self._edge:
            painter = QPainter(self)
            painter.fillRect(0, 0, 5, self.height(), QColor(self._edge))
            painter.end()

    def _set_step(self, text: str, message: str) -> None:
        shown = f"{text}: {message}" if message and self.state in (PortState.FAIL, PortState.READY) else text
        metrics = QFontMetrics(self.step.font())
        elided = metrics.elidedText(shown, Qt.TextElideMode.ElideRight, TILE_WIDTH - 24)
        if elided != self.step.text():
            self.step.setText(elided)
        tooltip = f"{text}\n{message}" if message else text
        if tooltip != self.step.toolTip():
            self.step.setToolTip(tooltip)

    def _set_device_id(self, device_id: str) -> None:
        if device_id == self.device_id:
            return
        self.device_id = device_id
        self.device_label.setText(f"ID {short_id(device_id)}" if device_id else "DeviceID —")
        self.device_label.setToolTip(device_id)
        self.copy_button.setEnabled(bool(device_id))

    def _set_buttons(self) -> None:
        self.cancel_button.setEnabled(self.state.busy)
        self.retry_button.setEnabled(self.state.finished and self.plugged)
