"""The Settings page: values go to the station's QSettings (a tmp INI file here) and the theme applies."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.ui.pages.context import PageContext
from app.ui.pages.settings import SettingsPage
from app.ui.settings import StationSettings
from app.ui.style import apply_theme


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
