"""The window on the real local instance, driven through its widgets on a real Qt event loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.domain.errors import SecretUnavailableError
from app.instance.api import Instance
from app.instance.local.instance import LocalInstance
from app.provisioning.run_request import RunRequest
from app.ui.main_window import QUIT_KEYS, MainWindow
from app.ui.pages.context import PageContext
from app.ui.pages.dashboard import DashboardPage
from app.ui.pages.registry import PAGES, STATION_ORDER
from app.ui.pages.station import StationPage
from app.ui.passphrase_dialog import PassphraseDialog, SessionPassphrase
from app.ui.style import apply_theme
from tests.ui.pool_drain import drain_pool

ADMIN_PAGES = [
    "Dashboard", "Devices", "HSM", "Firmwares", "Policies", "Provisioning", "Users", "Logs",
    "Station", "Board", "Records", "Throughput", "Outbox", "Settings",
]  # fmt: skip


def nav_titles(window: MainWindow) -> list[str]:
    return [window.nav.item(row).text() for row in range(window.nav.count())]


def test_window_says_which_instance_and_who(window: MainWindow, instance: LocalInstance) -> None:
    info = instance.info()
    assert "built-in local instance" in window.connection_label.text()
    assert info.name in window.connection_label.text()
    assert info.location in window.connection_label.text()
    assert window.user_label.text() == "No users yet: acting as the built-in station account"
    # "—" until the Station page's first scan reports, which may already have happened on a slow run.
    assert window.ports_label.text() in ("ports: —", "ports: 0")
    window.set_port_count(4)
    assert window.ports_label.text() == "ports: 4"
    window.set_port_count(None)
    assert window.ports_label.text() == "ports: —"


def test_navigation_follows_the_instance_order(window: MainWindow) -> None:
    assert nav_titles(window) == ADMIN_PAGES
    assert all(not window.nav.item(row).icon().isNull() for row in range(window.nav.count()))
    orders = [page.order for page in window.pages]
    assert orders == sorted(orders)
    logs, settings = window.page("Logs").order, window.page("Settings").order
    assert logs < STATION_ORDER < settings, "the Station page's slot must sit between Logs and Settings"


def test_clicking_navigation_shows_the_page(window: MainWindow, qtbot: QtBot) -> None:
    window.nav.setCurrentRow(ADMIN_PAGES.index("HSM"))
    assert window.current_page().title == "HSM"
    assert window.show_page("Logs")
    assert window.current_page().title == "Logs"
    assert window.show_page("Firmwares")
    assert not window.show_page("IoT Hubs")


def test_a_contributor_does_not_see_users(
    qtbot: QtBot, contributor_instance: LocalInstance, make_context: Callable[[Instance], PageContext]
) -> None:
    window = MainWindow(make_context(contributor_instance))
    qtbot.addWidget(window)
    window.show()
    assert "Users" not in nav_titles(window)
    assert nav_titles(window) == [t for t in ADMIN_PAGES if t != "Users"]
    assert window.user_label.text() == "Signed in as carol (contributor)"
    assert not window.has_page("Users")


def test_dashboard_loads_in_the_background_and_shows_activity(
    window: MainWindow, instance: LocalInstance, qtbot: QtBot
) -> None:
    dashboard = window.page("Dashboard")
    assert isinstance(dashboard, DashboardPage)
    qtbot.waitUntil(lambda: dashboard.summary is not None, timeout=10_000)
    assert "HSM" in dashboard.health_panels
    actions = [dashboard.activity_model.record(r).action for r in range(dashboard.activity_model.rowCount())]
    assert "instance.create" in actions


def test_go_to_devices_switches_page(window: MainWindow) -> None:
    dashboard = window.page("Dashboard")
    assert isinstance(dashboard, DashboardPage)
    dashboard.go_devices.click()
    assert window.current_page().title == "Devices"
    window.show_page("Dashboard")
    dashboard.go_hsm.click()
    assert window.current_page().title == "HSM"


def test_page_errors_reach_the_one_sink(window: MainWindow, qtbot: QtBot, instance: LocalInstance) -> None:
    devices = window.page("Devices")
    instance.close()  # every later call fails inside the worker
    devices.refresh()
    qtbot.waitUntil(lambda: window.error_banner.isVisible(), timeout=10_000)
    assert window.error_banner.message().startswith("Loading the batches failed")
    window.error_banner.dismiss.click()
    assert not window.error_banner.isVisible()


def test_provisioning_request_waits_for_a_station_page(qtbot: QtBot, context: PageContext) -> None:
    window = MainWindow(context, tuple(p for p in PAGES if p is not StationPage))
    qtbot.addWidget(window)
    request = RunRequest("task-a", "batch-a", "lab-wifi", "secret-password")
    assert window.route_provisioning_request(request) is False
    assert "the Station page runs it" in window.statusBar().currentMessage()


def test_the_quit_keys_close_the_window(window: MainWindow, qtbot: QtBot) -> None:
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5_000)
    QTest.keySequence(window, QKeySequence(QUIT_KEYS))
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)


def test_the_sink_words_a_failure_by_its_type(
    qtbot: QtBot,
    contributor_instance: LocalInstance,
    make_context: Callable[[Instance], PageContext],
) -> None:
    """A refusal for the role, a missing secret and a defect each read differently, chosen by type."""
    context = make_context(contributor_instance)
    context.passphrase = SessionPassphrase()
    window = MainWindow(context)
    qtbot.addWidget(window)
    window.show()
    page = window.current_page()
    banner = window.error_banner

    page.call(lambda: contributor_instance.delete_user("station"), "Deleting the user", print)
    qtbot.waitUntil(banner.isVisible, timeout=10_000)
    assert banner.message().startswith("Deleting the user is not allowed for your role (contributor): ")
    assert not banner.action.isVisible()
    banner.dismiss.click()

    page.call(lambda: 1 / 0, "Counting the boards", print)
    qtbot.waitUntil(banner.isVisible, timeout=10_000)
    assert banner.message().startswith("Counting the boards failed unexpectedly: ZeroDivisionError")
    assert "please report it" in banner.message()
    banner.dismiss.click()

    def locked() -> None:
        raise SecretUnavailableError("the instance keeps its private keys under a passphrase")

    page.call(locked, "Signing the images", print)
    qtbot.waitUntil(banner.isVisible, timeout=10_000)
    assert "needs a secret the station does not have" in banner.message()
    assert banner.action.isVisible() and banner.action.text() == "Enter passphrase…"

    def answer() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, PassphraseDialog)
        dialog.passphrase.setText("the session passphrase")
        dialog._accept()

    QTimer.singleShot(0, answer)
    banner.action.click()
    assert context.passphrase.prompt("why", False) == "the session passphrase"
    assert not banner.isVisible()


@pytest.fixture(params=[None, "light", "dark"])
def themed(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[str | None]:
    """The window as the application shows it: with the theme's style sheet applied (None: Qt's own)."""
    if request.param is not None:
        apply_theme(qapp, request.param)
    yield request.param
    qapp.setStyleSheet("")
    qapp.setPalette(qapp.style().standardPalette())


def test_the_window_fits_a_1024_by_600_screen_on_every_page(
    themed: str | None, qtbot: QtBot, context: PageContext
) -> None:
    """Issue 13: the minimum size was 1272x535. Every page must fit a small line PC's screen, in the
    theme the application really applies (its style sheet's paddings are what made the Dashboard taller)."""
    window = MainWindow(context)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        for title in window.titles():
            window.show_page(title)
            qtbot.wait(10)
            page = window.current_page()
            wide, high = page.minimumSizeHint().width(), page.minimumSizeHint().height()
            needed = window.minimumSizeHint()
            assert needed.width() <= 1024 and needed.height() <= 600, (title, needed.toTuple(), (wide, high))
        window.resize(1024, 600)
        qtbot.wait(20)
        assert window.width() <= 1024 and window.height() <= 600
    finally:
        for page in window.pages:
            page.shutdown()
        drain_pool()
