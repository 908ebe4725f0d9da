"""The Board page's serial monitor: the board's console live, reset buttons, save to file.

The console runs in a `MonitorSession` (its own thread, the port reserved); this widget only takes the
lines it has gathered every 100 ms, so a chatty board costs a few repaints a second. Lines arrive
already masked (the page gives the session its mask), so what is shown and what is saved never holds
the WiFi password.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import StorageError
from app.flashing.serial_monitor import ResetKind
from app.provisioning.bench_session import MONITOR_KEEP_LINES, MonitorSession
from app.ui.models.formatting import fixed_font
from app.workers.background import CallFailure, start_call

POLL_MS = 100


class BoardConsole(QWidget):
    error = Signal(object)  # CallFailure or a sentence, for the window's error sink
    saved = Signal(str)

    def __init__(self, data_dir: Path, mask: Callable[[str], str], poll_ms: int = POLL_MS) -> None:
        super().__init__()
        self._data_dir = data_dir
        self._mask = mask
        self.url: str | None = None
        self.session: MonitorSession | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start")
        self.start_button.setToolTip("Reset the board into its firmware and show what it prints")
        self.start_button.clicked.connect(lambda: self.start(ResetKind.FIRMWARE))
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("EN pulsed with IO0 released: the flashed firmware starts again")
        self.reset_button.clicked.connect(lambda: self.reset(ResetKind.FIRMWARE))
        self.download_button = QPushButton("Reset into download mode")
        self.download_button.setToolTip("EN pulsed with IO0 held low: the ROM waits for a flasher")
        self.download_button.clicked.connect(lambda: self.reset(ResetKind.DOWNLOAD))
        self.save_button = QPushButton("Save…")
        self.save_button.clicked.connect(self._ask_save)
        self.clear_button = QPushButton("Clear")
        for button in (self.start_button, self.stop_button, self.reset_button, self.download_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)
        buttons.addWidget(self.clear_button)
        layout.addLayout(buttons)
        self.state = QLabel("Not running. The WiFi password is masked in what is shown and saved.")
        self.state.setObjectName("hint")
        layout.addWidget(self.state)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MONITOR_KEEP_LINES)
        self.text.setFont(fixed_font())
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.clear_button.clicked.connect(self.text.clear)
        layout.addWidget(self.text, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self._drain)
        self._update_buttons()

    # ------------------------------------------------------------------ control
    def set_port(self, url: str | None) -> None:
        if url != self.url:
            self.stop()
        self.url = url
        self._update_buttons()

    @property
    def running(self) -> bool:
        return self.session is not None and self.session.running

    def start(self, reset: ResetKind = ResetKind.FIRMWARE) -> None:
        if self.url is None or self.running:
            return
        self.session = MonitorSession(self._data_dir, self.url, self._mask, reset).start()
        self.state.setText(f"Monitoring {self.url} at 115200 baud; the WiFi password is masked.")
        self._timer.start()
        self._update_buttons()

    def reset(self, kind: ResetKind) -> None:
        if self.running and self.session is not None:
            self.session.reset(kind)
        else:
            self.start(kind)

    def stop(self) -> None:
        """Ask the session to end; the next poll sees it gone (the thread leaves within ~50 ms)."""
        if self.session is not None:
            self.session.stop(wait=0)

    def stop_and_wait(self) -> None:
        """For shutdown and for background calls that need the port: end the session and wait for it."""
        if self.session is not None:
            self.session.stop(wait=2.0)

    # ------------------------------------------------------------------ showing
    def _drain(self) -> None:
        session = self.session
        if session is None:
            self._timer.stop()
            return
        lines = session.take_lines()
        if lines:
            self.text.appendPlainText("\n".join(lines))
        if not session.running:
            self._timer.stop()
            self.session = None
            if session.error is not None:
                self.state.setText(f"Stopped: {session.error}")
                self.error.emit(CallFailure.of("the serial monitor", session.error))
            else:
                self.state.setText("Stopped.")
            self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.running
        self.start_button.setEnabled(self.url is not None and not running)
        self.stop_button.setEnabled(running)
        for button in (self.reset_button, self.download_button):
            button.setEnabled(self.url is not None)

    # ------------------------------------------------------------------ saving
    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save the console", "console.txt", "Text (*.txt)")
        if path:
            self.save_to(Path(path))

    def save_to(self, path: Path) -> None:
        """Write what the console shows (masked already) to `path`, off the GUI thread."""
        text = self.text.toPlainText() + "\n"

        def write() -> str:
            try:
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise StorageError(f"cannot write {path}: {exc.strerror}") from None
            return str(path)

        start_call(write, "saving the console", self.saved.emit, self.error.emit, owner=self)
