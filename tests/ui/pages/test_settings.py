"""The Settings page: values go to the station's QSettings (a tmp INI file here) and the theme applies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication, QKeySequenceEdit
from pytestqt.qtbot import QtBot

from app.provisioning.events import Outcome
from app.ui.pages.context import PageContext
from app.ui.pages.settings import SettingsPage
from app.ui.pages.station_keys import START_KEY, STOP_KEY, ResultSound, key_sequence, sound_on, sound_pattern
from app.ui.settings import StationSettings
from app.ui.style import apply_theme

NO_MODIFIER = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def page(qtbot: QtBot, context: PageContext) -> Iterator[SettingsPage]:
    settings_page = SettingsPage(context)
    qtbot.addWidget(settings_page)
    settings_page.show()
    yield settings_page
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    apply_theme(app, "light")


def reread(tmp_path: Path) -> StationSettings:
    return StationSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def test_the_data_folder_is_shown(page: SettingsPage, context: PageContext) -> None:
    assert page.data_dir.text() == str(context.data_dir)


def test_choices_are_persisted(qtbot: QtBot, page: SettingsPage, tmp_path: Path) -> None:
    assert page.baud.currentData() == 921600
    assert not page.auto_start.isChecked()
    with qtbot.waitSignal(page.context.settings.changed) as changed:
        page.baud.setCurrentIndex(page.baud.findData(460800))
    assert changed.args == ["flashing/default_baud"]
    page.auto_start.click()
    page.theme.setCurrentIndex(page.theme.findData("dark"))
    stored = reread(tmp_path)
    assert (stored.default_baud, stored.auto_start, stored.theme) == (460800, True, "dark")


def test_the_theme_applies_at_once(page: SettingsPage) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    page.theme.setCurrentIndex(page.theme.findData("dark"))
    assert app.palette().window().color().name() == "#1b222b"
    page.theme.setCurrentIndex(page.theme.findData("light"))
    assert app.palette().window().color().name() == "#ffffff"


def press(
    qtbot: QtBot, field: QKeySequenceEdit, key: Qt.Key, modifiers: Qt.KeyboardModifier = NO_MODIFIER
) -> None:
    """Click the capture field and press a key on it as a pedal would (one key ends the capture)."""
    field.setFocus()
    with qtbot.waitSignal(field.editingFinished, timeout=1000):
        qtbot.keyClick(field, key, modifiers)


def test_a_pedal_key_is_captured_kept_and_refused_when_the_window_uses_it(
    qtbot: QtBot, page: SettingsPage, tmp_path: Path
) -> None:
    line = page.line
    assert line.start_key.keySequence().toString() == "F5"
    assert line.stop_key.keySequence().toString() == "Shift+F5"
    press(qtbot, line.start_key, Qt.Key.Key_F9)
    assert key_sequence(reread(tmp_path), START_KEY, "F5").toString() == "F9"
    assert line.key_problem.isHidden()

    refused = [
        (line.stop_key, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier, "closes the window"),
        (line.stop_key, Qt.Key.Key_F9, NO_MODIFIER, "already starts a run"),
        (line.stop_key, Qt.Key.Key_Space, NO_MODIFIER, "types text"),
        (line.start_key, Qt.Key.Key_A, NO_MODIFIER, "types text"),
        (line.start_key, Qt.Key.Key_Return, NO_MODIFIER, "moves through or edits"),
        (line.start_key, Qt.Key.Key_Up, NO_MODIFIER, "moves through or edits"),
        (line.start_key, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier, "is Paste in the window's text"),
    ]
    for field, key, modifiers, reason in refused:
        press(qtbot, field, key, modifiers)
        assert reason in line.key_problem.text(), (key, line.key_problem.text())
        assert line.key_problem.isVisible()
    stored = reread(tmp_path)
    assert key_sequence(stored, START_KEY, "F5").toString() == "F9", "a refused key was stored"
    assert key_sequence(stored, STOP_KEY, "Shift+F5").toString() == "Shift+F5"
    assert (line.start_key.keySequence().toString(), line.stop_key.keySequence().toString()) == (
        "F9",
        "Shift+F5",
    )

    press(qtbot, line.stop_key, Qt.Key.Key_F9, Qt.KeyboardModifier.ControlModifier)
    assert line.key_problem.isHidden(), "the reason stayed after a good key"
    assert key_sequence(reread(tmp_path), STOP_KEY, "Shift+F5").toString() == "Ctrl+F9"


def test_the_sound_switch_and_its_choice_are_kept(qtbot: QtBot, page: SettingsPage, tmp_path: Path) -> None:
    line = page.line
    assert not line.sound.isChecked()
    line.sound.click()
    line.pattern.setCurrentIndex(line.pattern.findData("failures"))
    stored = reread(tmp_path)
    assert sound_on(stored) and sound_pattern(stored) == "failures"
    sound = ResultSound(page.context.settings)
    sound.result(Outcome.PASS, now=10.0)
    sound.result(Outcome.FAIL, now=20.0)
    assert sound.played == [Outcome.FAIL], "'failures only' sounded for a pass"
    line.pattern.setCurrentIndex(line.pattern.findData("beeps"))
    sound.result(Outcome.PASS, now=30.0)
    assert sound.played == [Outcome.FAIL, Outcome.PASS], "the sound did not follow the new choice"
