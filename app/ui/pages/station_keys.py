"""Starting and stopping from the keyboard, and the optional sound on a result.

Line operators work with a foot pedal or a barcode scanner that sends a key, not a mouse: F5 starts the
ticked ports (those not already running) and Shift+F5 stops every running board, while the Station page
is shown and no dialog is open. The keys and the sound are the station's own preferences, kept in the
same QSettings as the rest (`keyboard/start`, `keyboard/stop`, `sound/on_result`), so a line can map a
pedal that sends another key without a code change. The sound is off by default: a room of stations
beeping is only useful when someone chose it. Many results at once make one sound, not a burst, and a
failure's double beep wins over a pass's single one.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from app.provisioning.events import Outcome
from app.ui.settings import StationSettings

START_KEY = "keyboard/start"
STOP_KEY = "keyboard/stop"
SOUND_KEY = "sound/on_result"
DEFAULT_START = "F5"
DEFAULT_STOP = "Shift+F5"
SOUND_GAP_S = 0.4  # results closer together than this share one sound
FAIL_SECOND_BEEP_MS = 180


def key_sequence(settings: StationSettings, key: str, default: str) -> QKeySequence:
    """The configured key, or the default when none (or an unreadable one) is set."""
    text = str(settings.store.value(key, default) or default)
    sequence = QKeySequence(text)
    return sequence if not sequence.isEmpty() else QKeySequence(default)


def sound_on(settings: StationSettings) -> bool:
    return str(settings.store.value(SOUND_KEY, "false")).lower() == "true"


def set_sound(settings: StationSettings, on: bool) -> None:
    if sound_on(settings) == on:
        return
    settings.store.setValue(SOUND_KEY, "true" if on else "false")
    settings.store.sync()


class ResultSound(QObject):
    """One beep for a pass, two for a failure; cancelled runs are silent. `played` keeps what it did."""

    def __init__(self, settings: StationSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.enabled = sound_on(settings)  # read once: a settings read per result costs on a busy line
        self.played: list[Outcome] = []
        self._last = -SOUND_GAP_S
        self._last_outcome: Outcome | None = None

    def result(self, outcome: Outcome, now: float | None = None) -> None:
        if not self.enabled or outcome is Outcome.CANCELLED:
            return
        moment = time.monotonic() if now is None else now
        recent = moment - self._last < SOUND_GAP_S
        if recent and not (outcome is Outcome.FAIL and self._last_outcome is Outcome.PASS):
            return  # one sound for a burst of results; a failure still sounds after a pass
        self._last, self._last_outcome = moment, outcome
        self.played.append(outcome)
        QApplication.beep()
        if outcome is Outcome.FAIL:
            QTimer.singleShot(FAIL_SECOND_BEEP_MS, self, QApplication.beep)
