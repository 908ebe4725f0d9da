"""The Settings page's self-check: the button runs the real checks off the GUI thread and shows them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel
from pytestqt.qtbot import QtBot

from app.domain.chips import ChipType
from app.system.self_check import SelfCheckReport, Status
from app.ui.pages.context import PageContext
from app.ui.pages.settings import SettingsPage
from app.ui.widgets import self_check_panel
from app.ui.widgets.self_check_panel import SelfCheckPanel


def _texts(panel: SelfCheckPanel) -> list[str]:
    labels = (panel.rows.itemAt(i).widget() for i in range(panel.rows.count()))
    return [label.text() for label in labels if isinstance(label, QLabel)]


def test_the_settings_button_shows_every_check(qtbot: QtBot, context: PageContext) -> None:
    page = SettingsPage(context)
    qtbot.addWidget(page)
    page.show()
    panel = page.self_check
    assert panel.button.text() == "Run self-check"
    with qtbot.waitSignal(panel.finished, timeout=60_000) as done:
        qtbot.mouseClick(panel.button, Qt.MouseButton.LeftButton)
        assert not panel.button.isEnabled()  # running: a second click cannot start a second run
    report = done.args[0]
    assert isinstance(report, SelfCheckReport) and report.ok
    texts = _texts(panel)
    for chip in ChipType:
        assert f"{chip.display_name} support" in texts
    assert "data folder" in texts and "OK" in texts
    assert panel.verdict.text().startswith("Everything a run needs is here")
    assert panel.button.isEnabled()


def test_the_checks_run_off_the_gui_thread_and_a_second_run_replaces_the_rows(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    real = self_check_panel.run_checks

    def recording(data_dir: Path) -> SelfCheckReport:
        threads.append(threading.current_thread())
        return real(data_dir)

    monkeypatch.setattr(self_check_panel, "run_checks", recording)
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    panel = SelfCheckPanel(blocker / "station")
    qtbot.addWidget(panel)
    for _ in range(2):
        with qtbot.waitSignal(panel.finished, timeout=60_000) as done:
            panel.run()
    assert threads and all(t is not threading.main_thread() for t in threads)
    report = done.args[0]
    assert not report.ok
    assert [check.name for check in report.with_status(Status.FAIL)] == ["data folder"]
    assert panel.verdict.text() == "Missing for a run: data folder."
    assert _texts(panel).count("data folder") == 1  # the first run's rows are gone
    assert "FAIL" in _texts(panel)
