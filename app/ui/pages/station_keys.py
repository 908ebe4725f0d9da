"""Starting and stopping from the keyboard, and the optional sound on a result.

Line operators work with a foot pedal or a barcode scanner that sends a key, not a mouse: F5 starts the
ticked ports (those not already running) and Shift+F5 stops every running board, while the Station page
is shown and no dialog is open. The keys and the sound are the station's own preferences, kept in the
same QSettings as the rest (`keyboard/start`, `keyboard/stop`, `sound/on_result`, `sound/pattern`) and
chosen on Settings → Line, so a line can map a pedal that sends another key without a code change.

A key is refused (`key_problem`) when the window already uses it (Ctrl+Q quits), when it types text,
edits it (Ctrl+C, Ctrl+V, ...) or moves through fields and lists (a pedal sending Space or Enter would
also press whatever button has the focus), or when it is the other action's key.

The sound is off by default: a room of stations beeping is only useful when someone chose it. Many
results at once make one sound, not a burst, and a failure's beeps win over a pass's. The sounds are
patterns of the system bell: QtMultimedia is not part of the PySide6 wheel the station ships.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from PySide6.QtCore import QKeyCombination, QObject, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from app.provisioning.events import Outcome
from app.ui.settings import StationSettings

START_KEY = "keyboard/start"
STOP_KEY = "keyboard/stop"
SOUND_KEY = "sound/on_result"
PATTERN_KEY = "sound/pattern"
DEFAULT_START = "F5"
DEFAULT_STOP = "Shift+F5"
QUIT_KEYS = "Ctrl+Q"
WINDOW_KEYS = {QUIT_KEYS: "closes the window"}  # portable text -> what the window does with it
SOUND_GAP_S = 0.4  # results closer together than this share one sound
BEEP_GAP_MS = 180

# Keys that move through or edit the window's fields, lists and buttons when pressed on their own.
_NAVIGATION = {
    Qt.Key.Key_Tab,
    Qt.Key.Key_Backtab,
    Qt.Key.Key_Return,
    Qt.Key.Key_Enter,
    Qt.Key.Key_Escape,
    Qt.Key.Key_Backspace,
    Qt.Key.Key_Delete,
    Qt.Key.Key_Insert,
    Qt.Key.Key_Up,
    Qt.Key.Key_Down,
    Qt.Key.Key_Left,
    Qt.Key.Key_Right,
    Qt.Key.Key_Home,
    Qt.Key.Key_End,
    Qt.Key.Key_PageUp,
    Qt.Key.Key_PageDown,
}
_EDITING_KEYS = {  # what people press in a text field, on this platform
    QKeySequence.StandardKey.Copy: "Copy",
    QKeySequence.StandardKey.Cut: "Cut",
    QKeySequence.StandardKey.Paste: "Paste",
    QKeySequence.StandardKey.SelectAll: "Select all",
    QKeySequence.StandardKey.Undo: "Undo",
    QKeySequence.StandardKey.Redo: "Redo",
}
_COMMAND_MODIFIERS = (
    Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
)
_FIRST_SPECIAL_KEY = 0x01000000  # Qt's codes for F-keys, arrows, ...; below it a key types a character


@dataclass(frozen=True)
class SoundPattern:
    """How many bell rings a pass and a failure make (0: silent for that outcome)."""

    label: str
    on_pass: int
    on_fail: int


SOUND_PATTERNS = {
    "beeps": SoundPattern("One beep for a pass, two for a failure", 1, 2),
    "failures": SoundPattern("Failures only: two beeps", 0, 2),
    "insistent": SoundPattern("One beep for a pass, five for a failure", 1, 5),
}
DEFAULT_PATTERN = "beeps"


@dataclass(frozen=True)
class KeyAction:
    """One configurable key: where it is stored, its default, and what it is called in a message."""

    setting: str
    default: str
    name: str


START_ACTION = KeyAction(START_KEY, DEFAULT_START, "start")
STOP_ACTION = KeyAction(STOP_KEY, DEFAULT_STOP, "stop")
KEY_ACTIONS = (START_ACTION, STOP_ACTION)


def key_sequence(settings: StationSettings, key: str, default: str) -> QKeySequence:
    """The configured key, or the default when none (or an unreadable one) is set."""
    text = str(settings.store.value(key, default) or default)
    sequence = QKeySequence(text)
    return sequence if not sequence.isEmpty() else QKeySequence(default)


def action_key(settings: StationSettings, action: KeyAction) -> QKeySequence:
    return key_sequence(settings, action.setting, action.default)


def key_name(sequence: QKeySequence) -> str:
    return sequence.toString(QKeySequence.SequenceFormat.NativeText)


def key_problem(sequence: QKeySequence, action: KeyAction, settings: StationSettings) -> str | None:
    """Why `sequence` cannot be `action`'s key, in words a person can act on (None: it can)."""
    if sequence.isEmpty():
        return f"Press the key that should {action.name} a run"
    if sequence.count() != 1:
        return "One key (with Ctrl, Shift or Alt if you like), not a sequence of keys"
    combination: QKeyCombination = sequence[0]  # type: ignore[index]  # the stubs lack __getitem__
    key, modifiers = combination.key(), combination.keyboardModifiers()
    name = key_name(sequence)
    portable = sequence.toString(QKeySequence.SequenceFormat.PortableText)
    suggestion = "choose another key (a function key such as F9 suits a pedal or a scanner)"
    if portable in WINDOW_KEYS:
        return f"{name} already {WINDOW_KEYS[portable]}: {suggestion}"
    for standard, what in _EDITING_KEYS.items():
        if any(
            sequence.matches(bound) is QKeySequence.SequenceMatch.ExactMatch
            for bound in QKeySequence.keyBindings(standard)
        ):
            return f"{name} is {what} in the window's text fields: {suggestion}"
    if not modifiers & _COMMAND_MODIFIERS:
        if key in _NAVIGATION:
            return f"{name} moves through or edits the window's fields and buttons: {suggestion}"
        if key.value < _FIRST_SPECIAL_KEY:
            return f"{name} types text into the window's fields: {suggestion}"
    for other in KEY_ACTIONS:
        if (
            other != action
            and action_key(settings, other).matches(sequence) is QKeySequence.SequenceMatch.ExactMatch
        ):
            return f"{name} already {other.name}s a run: {suggestion}"
    return None


def set_action_key(settings: StationSettings, action: KeyAction, sequence: QKeySequence) -> str | None:
    """Store `sequence` for `action` unless it is refused; the refusal's reason otherwise."""
    problem = key_problem(sequence, action, settings)
    if problem is None:
        settings.put(action.setting, sequence.toString(QKeySequence.SequenceFormat.PortableText))
    return problem


def sound_on(settings: StationSettings) -> bool:
    return str(settings.store.value(SOUND_KEY, "false")).lower() == "true"


def set_sound(settings: StationSettings, on: bool) -> None:
    settings.put(SOUND_KEY, "true" if on else "false")


def sound_pattern(settings: StationSettings) -> str:
    name = str(settings.store.value(PATTERN_KEY, DEFAULT_PATTERN))
    return name if name in SOUND_PATTERNS else DEFAULT_PATTERN


def set_sound_pattern(settings: StationSettings, name: str) -> None:
    if name not in SOUND_PATTERNS:
        raise ValueError(f"the sound must be one of {', '.join(SOUND_PATTERNS)}")
    settings.put(PATTERN_KEY, name)


def ring(times: int, parent: QObject) -> None:
    """The system bell `times` times, BEEP_GAP_MS apart, without blocking the GUI thread."""
    for index in range(times):
        QTimer.singleShot(index * BEEP_GAP_MS, parent, QApplication.beep)


class ResultSound(QObject):
    """The chosen pattern per result; cancelled runs are silent. `played` keeps what it sounded for."""

    def __init__(self, settings: StationSettings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.played: list[Outcome] = []
        self._last = -SOUND_GAP_S
        self._last_outcome: Outcome | None = None
        self.reload()  # read once, and again when the settings change: a read per result costs on a busy line
        settings.changed.connect(self._setting_changed)

    def reload(self) -> None:
        self.enabled = sound_on(self.settings)
        self.pattern = SOUND_PATTERNS[sound_pattern(self.settings)]

    def _setting_changed(self, key: str) -> None:
        if key in (SOUND_KEY, PATTERN_KEY):
            self.reload()

    def result(self, outcome: Outcome, now: float | None = None) -> None:
        if not self.enabled or outcome is Outcome.CANCELLED:
            return
        rings = self.pattern.on_fail if outcome is Outcome.FAIL else self.pattern.on_pass
        if rings == 0:
            return
        moment = time.monotonic() if now is None else now
        recent = moment - self._last < SOUND_GAP_S
        if recent and not (outcome is Outcome.FAIL and self._last_outcome is Outcome.PASS):
            return  # one sound for a burst of results; a failure still sounds after a pass
        self._last, self._last_outcome = moment, outcome
        self.played.append(outcome)
        ring(rings, self)
