"""The error banner: shows the newest error, counts earlier ones, and goes away when dismissed."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.ui.widgets.error_banner import ErrorBanner


def test_newest_error_with_a_count_of_earlier_ones(qtbot) -> None:  # type: ignore[no-untyped-def]
    window = QWidget()
    qtbot.addWidget(window)
    banner = ErrorBanner()
    QVBoxLayout(window).addWidget(banner)
    window.show()
    assert not banner.isVisible()
    banner.show_message("Loading the batches failed: database is locked")
    assert banner.isVisible() and banner.more.text() == ""
    banner.show_message("Loading the tasks failed: database is locked")
    assert banner.label.text() == "Loading the tasks failed: database is locked"
    assert banner.more.text() == "(+1 earlier)"
    assert "Loading the batches failed" in banner.more.toolTip()
    banner.dismiss.click()
    assert not banner.isVisible() and banner.messages == []
