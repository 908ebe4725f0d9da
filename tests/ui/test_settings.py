"""Station preferences: defaults, round trips through the INI file, and refused values."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from app.provisioning.job import DEFAULT_BAUD
from app.ui.settings import StationSettings


def settings_at(path: Path) -> StationSettings:
    return StationSettings(QSettings(str(path), QSettings.Format.IniFormat))


def test_defaults(tmp_path: Path) -> None:
    settings = settings_at(tmp_path / "s.ini")
    assert (settings.theme, settings.default_baud, settings.auto_start) == ("light", DEFAULT_BAUD, False)


def test_values_survive_a_restart_and_changes_are_announced(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = settings_at(tmp_path / "s.ini")
    changes: list[str] = []
    settings.changed.connect(changes.append)
    settings.set_theme("dark")
    settings.set_default_baud(115200)
    settings.set_auto_start(True)
    assert changes == [
        "appearance/theme",
        "flashing/default_baud",
        "production/auto_start_on_plug_in",
    ]
    again = settings_at(tmp_path / "s.ini")
    assert (again.theme, again.default_baud, again.auto_start) == ("dark", 115200, True)
    with qtbot.assertNotEmitted(again.changed):
        again.set_theme("dark")


def test_bad_values_are_refused(tmp_path: Path) -> None:
    settings = settings_at(tmp_path / "s.ini")
    with pytest.raises(ValueError, match="theme must be one of light, dark"):
        settings.set_theme("purple")
    with pytest.raises(ValueError, match="baud rate must be one of 115200"):
        settings.set_default_baud(9600)


def test_a_hand_edited_file_falls_back_to_defaults(tmp_path: Path) -> None:
    path = tmp_path / "s.ini"
    path.write_text("[appearance]\ntheme=neon\n[flashing]\ndefault_baud=fast\n")
    settings = settings_at(path)
    assert (settings.theme, settings.default_baud) == ("light", DEFAULT_BAUD)
