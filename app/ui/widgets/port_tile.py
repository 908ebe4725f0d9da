"""One port's tile on the Station page: what the board is doing, and whether it passed, at a glance.

The verdict is a painted badge: a colour AND a word with a symbol ("✓ PASS", "✗ FAIL"), large enough to
read from across a bench, so nobody has to tell green from red. Under it the reason, wrapped over two or
three lines so a failure reads without hovering; a click on it opens the whole text and the log.

The grid gives every tile its size (app/ui/pages/station_grid.py). Below `COMPACT_BELOW` pixels high a
tile drops its DeviceID row and buttons so 64 fit one screen; its actions stay in its right-click menu
and in the drawer a click opens.

A tile holds no engine state of its own: `show_snapshot` draws whatever the station worker sent, in
the words of port_wording.py.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QVBoxLayout, QWidget

from app.ui.widgets.port_wording import bar_fraction, reason_text
from app.ui.widgets.tile_parts import PROGRESS_COLOUR, ProgressStrip, ReasonText, VerdictBadge
from app.workers.port_states import PortSnapshot, PortState

TILE_WIDTH = 250  # the largest a tile grows
TILE_HEIGHT = 192
MIN_TILE_WIDTH = 150  # the smallest, in the compact form
MIN_TILE_HEIGHT = 88
COMPACT_BELOW = 170  # a tile less high than this is compact

# Background, text, word. The word always carries the meaning; the colour repeats it.
BADGES: dict[PortState, tuple[str, str, str]] = {
    PortState.READY: ("#e8ecf0", "#3d4752", "READY"),
    PortState.PREPARING: ("#d6e6f7", "#1d4f86", "PREPARING"),
    PortState.RUNNING: ("#2f6fb2", "#ffffff", "RUNNING"),
    PortState.PASS: ("#2e7d32", "#ffffff", "✓  PASS"),
    PortState.WARNING: ("#f2a900", "#1f1600", "⚠  PASS · WARNING"),
    PortState.FAIL: ("#c62828", "#ffffff", "✗  FAIL"),
    PortState.CANCELLED: ("#5f6b76", "#ffffff", "■  CANCELLED"),
}
UNPLUGGED = ("#e8ecf0", "#8a949e", "UNPLUGGED")


def elapsed_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def short_id(device_id: str) -> str:
    return f"{device_id[:8]}…{device_id[-6:]}" if len(device_id) > 16 else device_id


class PortTile(QFrame):
    """Signals carry the tile's port URL."""

    cancel_requested = Signal(str)
    retry_requested = Signal(str)
    reenrol_requested = Signal(str)  # serve the board's IEF again (new WiFi, its DeviceID): no flashing
    log_requested = Signal(str)
    console_requested = Signal(str)
    details_requested = Signal(str)  # the reason or the tile was clicked: show the whole text and the log
    clear_requested = Signal(str)  # an unplugged board's tile is no longer wanted
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
        self._gone_after_run = False
        self.compact = False
        self.snapshot: PortSnapshot | None = None
        self.retry_plan: str | None = None
        self.setObjectName("portTile")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFixedSize(TILE_WIDTH, TILE_HEIGHT)
        self._edge = ""
        self.setToolTip(description or port)

        layout = QVBoxLayout(self)
        self._layout = layout
        top = QHBoxLayout()
        self.title = QLabel(title)
        self._title_font = QFont(self.title.font())
        self._title_font.setBold(True)
        self.title.setFont(self._title_font)
        self.title.setMinimumWidth(10)
        self.chip = QLabel(chip or "chip not known yet")
        self.chip.setObjectName("hint")
        self.chip.setMinimumWidth(10)
        self.elapsed = QLabel("")
        self.elapsed.setObjectName("hint")
        self.elapsed.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(self.title)
        top.addWidget(self.chip, 1)
        top.addWidget(self.elapsed)
        layout.addLayout(top)

        self.badge = VerdictBadge()
        self.badge.set_badge(*BADGES[PortState.READY])
        layout.addWidget(self.badge)
        self.step = ReasonText()
        self.step.set_text("Ready", "Ready")
        self.step.clicked.connect(lambda: self.details_requested.emit(self.port))
        layout.addWidget(self.step)
        self.progress = ProgressStrip()
        layout.addWidget(self.progress)

        self.id_row = QWidget()
        id_row = QHBoxLayout(self.id_row)
        id_row.setContentsMargins(0, 0, 0, 0)
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
        layout.addWidget(self.id_row)

        self.button_row = QWidget()
        buttons = QHBoxLayout(self.button_row)
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(4)
        self.log_button = QPushButton("Log")
        self.console_button = QPushButton("Console")
        self.retry_button = QPushButton("Retry")
        self.cancel_button = QPushButton("Cancel")
        self.log_button.setToolTip("Show this port's log in the drawer")
        self.console_button.setToolTip("Show what the board printed on its UART (WiFi password masked)")
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
        layout.addWidget(self.button_row)
        layout.addStretch(1)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self._apply_form()
        self.set_retry_plan(None)

    # --- size ------------------------------------------------------------------------------------
    def set_tile_size(self, width: int, height: int) -> None:
        """The grid's choice; a tile lower than COMPACT_BELOW shows only the title, verdict and reason."""
        if (width, height) != (self.width(), self.height()):
            self.setFixedSize(width, height)
        compact = height < COMPACT_BELOW
        if compact != self.compact:
            self.compact = compact
            self._apply_form()
        if compact:  # a compact tile with room to spare reads three lines of its reason
            self.step.set_lines(3 if height >= 120 else 2)

    def _apply_form(self) -> None:
        compact = self.compact
        self._layout.setContentsMargins(8 if compact else 10, 4 if compact else 8, 6 if compact else 10, 4)
        self._layout.setSpacing(3 if compact else 5)
        self._title_font.setPixelSize(12 if compact else 14)
        self.title.setFont(self._title_font)
        self.chip.setVisible(not compact)
        self.badge.set_compact(compact)
        self.step.set_lines(2 if compact else 3)
        self.progress.setFixedHeight(5 if compact else 8)
        self.id_row.setVisible(not compact)
        self.button_row.setVisible(not compact)

    # --- what the worker sent --------------------------------------------------------------------
    def show_snapshot(self, snap: PortSnapshot) -> None:
        self.snapshot = snap
        self.state, self.run = snap.state, snap.run
        self.started_mono, self.duration_s = snap.started_mono, snap.duration_s
        if snap.chip and snap.chip != self.chip.text():
            self.chip.setText(snap.chip)
        fraction = bar_fraction(snap.reached)
        self.step.set_text(*reason_text(snap))
        self.step.set_clickable(self.state.finished or snap.refused)
        self.progress.setValue(round(fraction * 1000))
        self._set_device_id(snap.device_id)
        self._paint_badge(fraction)
        self.tick(time.monotonic())
        self._set_buttons()

    def full_text(self) -> str:
        """The reason as a whole, for the drawer (the tile shows what fits)."""
        return self.step.full

    def set_identity(self, title: str, chip: str, description: str) -> None:
        """What discovery knows about the port (it may arrive after the first snapshot)."""
        if title != self.title.text():
            self.title.setText(title)
        if chip and (self.snapshot is None or not self.snapshot.chip):
            self.chip.setText(chip)
        self.setToolTip(description or self.port)

    def set_retry_plan(self, plan: str | None) -> None:
        """What Retry will use (the page's current request, in words); None: nothing is chosen yet."""
        self.retry_plan = plan
        self.retry_button.setToolTip(plan or "Choose the task, batch and WiFi in “Start provisioning…” first")
        self._set_buttons()

    def set_plugged(self, plugged: bool) -> None:
        if plugged != self.plugged:
            self.plugged = plugged
            # A board that re-enumerates while it runs (native USB resets) is the same board: only one
            # unplugged after its run may be cleared.
            self._gone_after_run = not plugged and not self.state.busy
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

    def menu_actions(self) -> QMenu:
        """The tile's actions as a menu (right click): the compact form has no room for buttons."""
        menu = QMenu(self)
        for label, enabled, signal in (
            ("Show log and details", True, self.details_requested),
            ("Serial console", True, self.console_requested),
            ("Retry", self.retry_button.isEnabled(), self.retry_requested),
            ("Re-enrol this board…", self.state.finished and self.plugged, self.reenrol_requested),
            ("Cancel", self.cancel_button.isEnabled(), self.cancel_requested),
            ("Clear this tile", self.clearable, self.clear_requested),
        ):
            action = menu.addAction(label)
            action.setEnabled(enabled)
            action.triggered.connect(lambda _=False, s=signal: s.emit(self.port))
        copy = menu.addAction("Copy DeviceID")
        copy.setEnabled(bool(self.device_id))
        copy.triggered.connect(self.copy_device_id)
        return menu

    @property
    def clearable(self) -> bool:
        """The tile of a board unplugged after its run may go."""
        return not self.plugged and not self.state.busy and self._gone_after_run

    def _menu(self, at: QPoint) -> None:
        self.menu_actions().popup(self.mapToGlobal(at))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() is Qt.MouseButton.LeftButton and self.compact:
            self.details_requested.emit(self.port)
        super().mouseReleaseEvent(event)

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

    def _set_device_id(self, device_id: str) -> None:
        if device_id == self.device_id:
            return
        self.device_id = device_id
        self.device_label.setText(f"ID {short_id(device_id)}" if device_id else "DeviceID —")
        self.device_label.setToolTip(device_id)
        self.copy_button.setEnabled(bool(device_id))

    def _set_buttons(self) -> None:
        """Only what changed: every Qt setter call costs, and this runs on every snapshot."""
        for button, enabled in (
            (self.cancel_button, self.state.busy),
            (self.retry_button, self.state.finished and self.plugged),
        ):
            if button.isEnabled() != enabled:
                button.setEnabled(enabled)
