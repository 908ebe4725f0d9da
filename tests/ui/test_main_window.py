"""The window on the real local instance, driven through its widgets on a real Qt event loop."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.instance.local.instance import LocalInstance
from app.ui.main_window import MainWindow
from app.ui.pages.dashboard import DashboardPage


def test_window_says_it_is_connected_to_the_local_instance(qtbot: QtBot, tmp_path: Path) -> None:
    instance = LocalInstance.open(tmp_path / "local.sqlite3")
    try:
        instance.create_batch("visible-batch")
        window = MainWindow(instance, instance.info())
        qtbot.addWidget(window)
        window.show()
        assert "built-in local instance" in window.connection_label.text()
        assert str(tmp_path) in window.connection_label.text()
        assert "administrator" in window.user_label.text()

        dashboard = window.page("Dashboard")
        assert isinstance(dashboard, DashboardPage)
        qtbot.waitUntil(lambda: dashboard.summary is not None, timeout=10_000)
        assert "HSM" in dashboard.health_panels
        actions = [dashboard.activity.item(r, 2).text() for r in range(dashboard.activity.rowCount())]
        assert any("batch" in a for a in actions)
    finally:
        instance.close()
