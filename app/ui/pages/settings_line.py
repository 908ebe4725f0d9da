"""Settings → Line: the keys that start and stop a run, and the sound on a result.

Foot pedals and barcode scanners send a key; the person presses it in a capture field and the station
keeps it (station_keys.py says which keys are refused and why). A refused key is not stored: the field
goes back to the key in use and the reason stays under it until the next key is accepted. The Station
page follows a change at once (it listens to `StationSettings.changed`).
"""

from __future__ import annotations

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QKeySequenceEdit,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from app.ui.pages.station_keys import (
    SOUND_KEY,
    SOUND_PATTERNS,
    START_ACTION,
    STOP_ACTION,
    KeyAction,
    action_key,
    key_name,
    ring,
    set_action_key,
    set_sound,
    set_sound_pattern,
    sound_on,
    sound_pattern,
)
from app.ui.settings import StationSettings
from app.ui.widgets.page_header import section_title

KEY_FIELD_WIDTH = 160


class LineSection:
    """The rows of the Line section, added to the Settings page's form."""

    def __init__(self, form: QFormLayout, settings: StationSettings, choice_width: int) -> None:
        self.settings = settings
        form.addRow(section_title("Line"))
        self.start_key = self._key_field(START_ACTION)
        self.stop_key = self._key_field(STOP_ACTION)
        form.addRow("Start key", self._with_default(self.start_key, START_ACTION))
        form.addRow("Stop key", self._with_default(self.stop_key, STOP_ACTION))
        self.key_problem = QLabel("")
        self.key_problem.setObjectName("problem")
        self.key_problem.hide()
        hint = QLabel(
            "Click a field and press the key your pedal or scanner sends. The start key provisions\n"
            "the ticked ports on the Station page; the stop key stops every running board."
        )
        hint.setObjectName("hint")
        notes = QVBoxLayout()
        notes.setSpacing(4)
        notes.addWidget(self.key_problem)
        notes.addWidget(hint)
        form.addRow("", notes)

        self.sound = QCheckBox("Sound when a board passes or fails")
        self.sound.setChecked(sound_on(settings))
        self.sound.toggled.connect(lambda on: set_sound(settings, on))
        form.addRow("Sound", self.sound)
        self.pattern = QComboBox()
        self.pattern.setMinimumWidth(choice_width)
        for name, pattern in SOUND_PATTERNS.items():
            self.pattern.addItem(pattern.label, name)
        self.pattern.setCurrentIndex(self.pattern.findData(sound_pattern(settings)))
        self.pattern.currentIndexChanged.connect(
            lambda _i: set_sound_pattern(settings, self.pattern.currentData())
        )
        self.try_sound = QPushButton("Play a failure")
        self.try_sound.setToolTip("Play the chosen sound for a failed board")
        self.try_sound.clicked.connect(self.play_failure)
        row = QHBoxLayout()
        row.addWidget(self.pattern)
        row.addWidget(self.try_sound)
        row.addStretch(1)
        form.addRow("Sounds", row)
        settings.changed.connect(self._setting_changed)

    def _key_field(self, action: KeyAction) -> QKeySequenceEdit:
        field = QKeySequenceEdit(action_key(self.settings, action))
        field.setMaximumSequenceLength(1)
        field.setFixedWidth(KEY_FIELD_WIDTH)
        field.setToolTip(f"The key that should {action.name} a run: click here and press it")
        field.editingFinished.connect(lambda: self.choose(action, field.keySequence()))
        return field

    def _with_default(self, field: QKeySequenceEdit, action: KeyAction) -> QHBoxLayout:
        reset = QPushButton(f"Default ({key_name(QKeySequence(action.default))})")
        reset.clicked.connect(lambda: self.choose(action, QKeySequence(action.default)))
        row = QHBoxLayout()
        row.addWidget(field)
        row.addWidget(reset)
        row.addStretch(1)
        return row

    def field(self, action: KeyAction) -> QKeySequenceEdit:
        return self.start_key if action is START_ACTION else self.stop_key

    def choose(self, action: KeyAction, sequence: QKeySequence) -> str | None:
        """Keep `sequence` as `action`'s key, or say why not and show the key still in use."""
        problem = set_action_key(self.settings, action, sequence)
        field = self.field(action)
        in_use = action_key(self.settings, action)
        if field.keySequence() != in_use:
            field.setKeySequence(in_use)
        self.key_problem.setText(problem or "")
        self.key_problem.setVisible(problem is not None)
        return problem

    def play_failure(self) -> None:
        ring(SOUND_PATTERNS[sound_pattern(self.settings)].on_fail, self.try_sound)

    def _setting_changed(self, key: str) -> None:
        on = sound_on(self.settings)
        if key == SOUND_KEY and self.sound.isChecked() != on:
            self.sound.setChecked(on)  # the Station page's Sound button moved it
